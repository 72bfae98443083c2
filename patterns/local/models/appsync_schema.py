"""An AppSync schema as graphql-core builds it: the AWS scalars and auth directives AppSync predefines.

AppSync schemas use ``AWSDateTime``, ``AWSJSON``, ... and ``@aws_api_key`` / ``@aws_cognito_user_pools``
without declaring them; graphql-core needs the declarations. ``AWSJSON`` values travel as JSON
strings (AppSync parses an argument's string and serializes a result's object to a string).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, GraphQLSchema, build_schema, parse

AWS_SCALARS = (
    "AWSDate",
    "AWSTime",
    "AWSDateTime",
    "AWSTimestamp",
    "AWSEmail",
    "AWSJSON",
    "AWSURL",
    "AWSPhone",
    "AWSIPAddress",
)

AWS_DIRECTIVES = """
directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION
directive @aws_auth(cognito_groups: [String]) on FIELD_DEFINITION
directive @aws_api_key on FIELD_DEFINITION | OBJECT
directive @aws_iam on FIELD_DEFINITION | OBJECT
directive @aws_oidc on FIELD_DEFINITION | OBJECT
directive @aws_lambda on FIELD_DEFINITION | OBJECT
directive @aws_cognito_user_pools(cognito_groups: [String]) on FIELD_DEFINITION | OBJECT
"""


def _json_serialize(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _json_parse(value: Any) -> Any:
    if not isinstance(value, str):
        raise GraphQLError("AWSJSON must be a JSON string")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise GraphQLError(f"Variable has an invalid value: not valid JSON ({exc})") from exc


def _timestamp(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GraphQLError("AWSTimestamp must be an integer (seconds since the epoch)")
    return int(value)


def build(definition: str) -> GraphQLSchema:
    """Build the executable schema of an AppSync definition (raises GraphQLError if it is invalid)."""
    declared = {getattr(d, "name", None) and d.name.value for d in parse(definition).definitions}
    prelude = "".join(f"scalar {name}\n" for name in AWS_SCALARS if name not in declared)
    schema = build_schema(prelude + AWS_DIRECTIVES + definition)
    coercers = {"AWSJSON": (_json_serialize, _json_parse), "AWSTimestamp": (_timestamp, _timestamp)}
    for name, (output, parse_input) in coercers.items():
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            _coerce(scalar, output, parse_input)
    return schema


def _coerce(scalar: GraphQLScalarType, output: Any, parse_input: Any) -> None:
    """Give a scalar its coercions under both graphql-core 3.2 (serialize/parse_*) and 3.3 (coerce_*)."""

    def literal(node: Any, *_: Any) -> Any:
        value = getattr(node, "value", None)
        if parse_input is _timestamp and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value)
        return parse_input(value)

    scalar.serialize = output  # type: ignore[method-assign]
    scalar.parse_value = parse_input  # type: ignore[method-assign]
    scalar.parse_literal = literal  # type: ignore[method-assign]
    for attribute, value in (
        ("coerce_output_value", output),
        ("coerce_input_value", parse_input),
        ("coerce_input_literal", literal),
    ):
        if hasattr(scalar, attribute):
            setattr(scalar, attribute, value)
