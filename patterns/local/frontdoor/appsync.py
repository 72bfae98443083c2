"""AppSync GraphQL APIs on the front door: ``POST <front door>/<api id>/graphql`` executes a query.

The API (models/appsync.py) is read live from moto's appsync backend; graphql-core parses,
validates and executes the query against the deployed schema, and every field with a resolver
runs it as AppSync does: VTL request/response mapping templates (:mod:`.vtl_appsync`) around an
AMAZON_DYNAMODB (GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan with nextToken pages),
AWS_LAMBDA (Invoke; direct resolvers get AppSync's Lambda event) or NONE data source; PIPELINE
resolvers run their functions between the before and after templates (``$ctx.prev.result``,
``$ctx.stash``).

Authorization as AppSync does it: the request is authenticated by one of the API's providers
(``x-api-key`` → API_KEY with its expiry, a SigV4 ``Authorization`` → AWS_IAM, another
``Authorization`` → AMAZON_COGNITO_USER_POOLS with the pool's JWT) or refused with 401
UnauthorizedException; then each field is checked against its ``@aws_*`` directives (the field's,
else its type's, else the default provider only; ``cognito_groups`` need a group of the caller),
and a field the caller may not read is null with an ``Unauthorized`` error. GraphQL errors go into
the 200 body with ``errorType``, ``message``, ``locations`` and ``path``.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    execute,
    parse,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules

from ..models.appsync import ApiState, DataSourceConfig, find_api
from ..models.appsync import clock as door_clock
from ..models.appsync_schema import build
from . import vtl
from .authorizers import _verify_jwt
from .requests import LambdaInvocationError, _IntegrationFailure, _json_reply, _Reply
from .vtl_appsync import AppSyncUtil, TemplateError, from_attribute, to_attribute

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from .apigateway import FrontDoor

_DIRECTIVE_MODES = {
    "aws_api_key": "API_KEY",
    "aws_iam": "AWS_IAM",
    "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
    "aws_auth": "AMAZON_COGNITO_USER_POOLS",
}
_UNAUTHORIZED = "You are not authorized to make this call."
_schema_lock = threading.Lock()


@functools.lru_cache(maxsize=32)
def _schema(definition: str) -> GraphQLSchema:
    return build(definition)


@functools.lru_cache(maxsize=256)
def _template(source: str) -> vtl.Template:
    return vtl.Template(source)


class _Caller:
    """Who is calling: the provider that authenticated the request and its ``$ctx.identity``."""

    def __init__(self, mode: str, identity: dict[str, Any] | None, groups: list[str], default_deny: bool) -> None:
        self.mode, self.identity, self.groups, self.default_deny = mode, identity, groups, default_deny


def serve(door: FrontDoor, api: Any, request: Request) -> _Reply:
    """Execute one GraphQL request against a deployed API (``api`` is moto's GraphqlAPI)."""
    state: ApiState = api.local_state
    if request.method != "POST":
        return _errors(400, "MalformedHttpRequestException", "GraphQL requests are POSTed to /graphql")
    try:
        caller = _authenticate(door, state, request)
    except PermissionError as exc:
        return _errors(401, "UnauthorizedException", str(exc) or _UNAUTHORIZED)
    try:
        body = json.loads(request.get_data() or b"{}")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise ValueError("the body needs a 'query' string")
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            raise ValueError("'variables' must be an object")
    except ValueError as exc:
        return _errors(400, "MalformedHttpRequestException", f"Unable to parse the request: {exc}")
    if state.definition is None:
        return _errors(400, "BadRequestException", "The API has no schema")
    with _schema_lock:
        schema = _schema(state.definition)
    try:
        document = parse(body["query"])
    except GraphQLError as error:
        return _json_reply(200, {"data": None, "errors": [_format(error, "InvalidSyntax")]})
    rules = list(specified_rules) + ([] if state.introspection else [NoSchemaIntrospectionCustomRule])
    problems = validate(schema, document, rules)
    if problems:
        return _json_reply(200, {"data": None, "errors": [_format(e, "ValidationError") for e in problems]})
    run = _Execution(door, state, caller, request, variables)
    result = execute(
        schema,
        document,
        variable_values=variables,
        operation_name=body.get("operationName"),
        field_resolver=run.resolve,
    )
    if hasattr(result, "__await__"):  # pragma: no cover - no resolver here is async
        raise RuntimeError("asynchronous execution is not supported")
    reply: dict[str, Any] = {"data": result.data}
    errors = [_format(e) for e in result.errors or []] + run.appended
    if errors:
        reply["errors"] = errors
    return _json_reply(200, reply)


def _errors(status: int, error_type: str, message: str) -> _Reply:
    return _json_reply(status, {"errors": [{"errorType": error_type, "message": message}]})


def _format(error: GraphQLError, default_type: str | None = None) -> dict[str, Any]:
    extensions = error.extensions or {}
    original = error.original_error
    if isinstance(original, TemplateError):
        error_type, data, info, message = original.error_type, original.data, original.info, original.message
    else:
        error_type = extensions.get("errorType", default_type)
        data, info, message = extensions.get("data"), extensions.get("errorInfo"), error.message
    return {
        "path": list(error.path) if error.path else None,
        "data": data,
        "errorType": error_type,
        "errorInfo": info,
        "locations": [{"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations or []],
        "message": message,
    }


# ---------------------------------------------------------------------------------------------
# Authentication (the request) and authorization (each field)
# ---------------------------------------------------------------------------------------------


def _providers(state: ApiState) -> list[dict[str, Any]]:
    default = {"AuthenticationType": state.authentication_type, "UserPoolConfig": state.user_pool}
    return [default, *state.additional]


def _authenticate(door: FrontDoor, state: ApiState, request: Request) -> _Caller:
    providers = {p["AuthenticationType"]: p for p in _providers(state)}
    source_ip = [request.remote_addr or "127.0.0.1"]
    authorization = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key")
    if api_key is not None:
        if "API_KEY" not in providers:
            raise PermissionError(_UNAUTHORIZED)
        with door._lock:
            api = find_api(state.account_id, state.region, _api_id(request))
            key = (api.api_keys if api is not None else {}).get(api_key)
        if key is None:
            raise PermissionError(_UNAUTHORIZED)
        if key.expires is not None and float(key.expires) <= door_clock():
            raise PermissionError("API key has expired.")
        return _Caller("API_KEY", None, [], False)
    if authorization.startswith("AWS4-HMAC-SHA256"):
        if "AWS_IAM" not in providers:
            raise PermissionError(_UNAUTHORIZED)
        from ..guard import SigV4Error, verify_sigv4

        credentials = getattr(door, "credentials", None) or {}
        try:
            access_key = verify_sigv4(request.environ, credentials.get)
        except SigV4Error as exc:
            raise PermissionError(str(exc)) from exc
        arn = f"arn:aws:iam::{door.account_id}:root"
        identity = {
            "accountId": door.account_id,
            "cognitoIdentityAuthProvider": None,
            "cognitoIdentityAuthType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "sourceIp": source_ip,
            "userArn": arn,
            "username": access_key,
        }
        return _Caller("AWS_IAM", identity, [], False)
    if authorization and "AMAZON_COGNITO_USER_POOLS" in providers:
        config = providers["AMAZON_COGNITO_USER_POOLS"].get("UserPoolConfig") or {}
        region = config.get("AwsRegion") or state.region
        issuer = f"https://cognito-idp.{region}.amazonaws.com/{config.get('UserPoolId')}"
        try:
            claims = _verify_jwt(
                authorization, issuers=[issuer], audience=None, account_id=state.account_id, now=door.clock()
            )
        except Exception as exc:  # bad signature, expired, wrong pool: AppSync answers 401
            raise PermissionError(_UNAUTHORIZED) from exc
        client = str(claims.get("aud") or claims.get("client_id") or "")
        regex = config.get("AppIdClientRegex")
        is_default = state.authentication_type == "AMAZON_COGNITO_USER_POOLS"
        deny = is_default and config.get("DefaultAction", "ALLOW") == "DENY"
        if regex and not re.fullmatch(regex, client):
            raise PermissionError(_UNAUTHORIZED)
        groups = claims.get("cognito:groups") or []
        identity = {
            "sub": claims.get("sub"),
            "issuer": claims.get("iss"),
            "username": claims.get("cognito:username") or claims.get("username"),
            "claims": claims,
            "sourceIp": source_ip,
            "defaultAuthStrategy": "DENY" if deny else "ALLOW",
            "groups": list(groups) or None,
        }
        return _Caller("AMAZON_COGNITO_USER_POOLS", identity, list(groups), deny)
    raise PermissionError(_UNAUTHORIZED)


def _api_id(request: Request) -> str:
    host = request.host or ""
    if ".appsync-api." in host:
        return host.split(".", 1)[0]
    return request.path.split("/")[1]


def _directives(node: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for directive in getattr(node, "directives", None) or ():
        if directive.name.value in _DIRECTIVE_MODES:
            groups = None
            for argument in directive.arguments or ():
                if argument.name.value == "cognito_groups":
                    groups = [v.value for v in getattr(argument.value, "values", ())]
            found[directive.name.value] = groups
    return found


def _allowed(state: ApiState, parent: GraphQLObjectType, field_name: str, caller: _Caller) -> bool:
    field = parent.fields[field_name]
    directives = _directives(field.ast_node)
    if not directives:
        for node in (parent.ast_node, *(parent.extension_ast_nodes or ())):
            directives |= _directives(node)
    if not directives:
        if caller.mode != state.authentication_type:
            return False
        return not caller.default_deny
    for name, groups in directives.items():
        if _DIRECTIVE_MODES[name] != caller.mode:
            continue
        if name == "aws_auth" and state.authentication_type != "AMAZON_COGNITO_USER_POOLS":
            continue
        if groups is None or set(groups) & set(caller.groups):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------


class _Execution:
    """One request's resolvers: authorization per field, then the field's resolver (or the default)."""

    def __init__(self, door: FrontDoor, state: ApiState, caller: _Caller, request: Request, variables: Any) -> None:
        self.door, self.state, self.caller, self.variables = door, state, caller, variables
        self.headers = {k.lower(): v for k, v in request.headers.items()}
        self.appended: list[dict[str, Any]] = []

    def resolve(self, source: Any, info: Any, **arguments: Any) -> Any:
        parent = info.parent_type
        if not info.field_name.startswith("__") and not _allowed(self.state, parent, info.field_name, self.caller):
            raise GraphQLError(
                f"Not Authorized to access {info.field_name} on type {parent.name}",
                extensions={"errorType": "Unauthorized"},
            )
        resolver = self.state.resolvers.get((parent.name, info.field_name))
        if resolver is None:
            return source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
        stash: dict[str, Any] = {}
        context = self._context(source, info, arguments, stash)
        if resolver.kind == "PIPELINE":
            before = self._render(resolver.request_template, context, "{}") if resolver.request_template else None
            context["prev"] = {"result": _loads(before) if before and before.strip() else {}}
            for function_id in resolver.functions:
                function = self.state.functions[function_id]
                context["result"] = None
                context["error"] = None
                result = self._unit(
                    function.data_source, function.request_template, function.response_template, context, info
                )
                context["prev"] = {"result": result}
            if resolver.response_template is None:
                return context["prev"]["result"]
            return _loads(self._render(resolver.response_template, context))
        return self._unit(
            resolver.data_source or "", resolver.request_template, resolver.response_template, context, info
        )

    def _context(self, source: Any, info: Any, arguments: dict[str, Any], stash: dict[str, Any]) -> dict[str, Any]:
        return {
            "arguments": arguments,
            "args": arguments,
            "source": source,
            "identity": self.caller.identity,
            "request": {"headers": vtl.CaseInsensitiveDict(self.headers), "domainName": None},
            "info": {
                "fieldName": info.field_name,
                "parentTypeName": info.parent_type.name,
                "variables": dict(self.variables),
                "selectionSetList": _selection_list(info),
                "selectionSetGraphQL": "",
            },
            "stash": stash,
            "result": None,
            "prev": None,
            "error": None,
            "outErrors": [],
        }

    def _render(self, source: str, context: dict[str, Any], empty: str | None = None) -> str:
        util = AppSyncUtil(door_clock)
        variables = {"context": context, "ctx": context, "util": util, "utils": util}
        try:
            text = _template(source).render(variables)
        except vtl.VtlError as exc:
            raise GraphQLError(str(exc), extensions={"errorType": "MappingTemplate"}) from exc
        for error in util.errors:
            self.appended.append(
                {
                    "path": None,
                    "data": error.data,
                    "errorType": error.error_type,
                    "errorInfo": error.info,
                    "locations": [],
                    "message": error.message,
                }
            )
        if not text.strip() and empty is None:
            raise GraphQLError(
                "Template transformation yielded an empty response.", extensions={"errorType": "MappingTemplate"}
            )
        return text if text.strip() else (empty or "")

    def _unit(
        self, source_name: str, request: str | None, response: str | None, context: dict[str, Any], info: Any
    ) -> Any:
        source = self.state.data_sources[source_name]
        if request is None:  # a direct Lambda resolver: AppSync's event, the function's result as is
            event = {k: context[k] for k in ("arguments", "identity", "source", "info", "prev", "stash")}
            event["request"] = {"headers": dict(self.headers), "domainName": None}
            try:
                result = self.door.invoke(source.function_arn, event)
            except LambdaInvocationError as exc:
                raise GraphQLError(
                    str(exc.payload.get("errorMessage", "")),
                    extensions={"errorType": str(exc.payload.get("errorType") or "Lambda:Unhandled")},
                ) from exc
            if response is None:
                return result
            context["result"] = result
            return _loads(self._render(response, context))
        document = _loads(self._render(request, context))
        version = str(document.get("version", "2017-02-28")) if isinstance(document, dict) else "2017-02-28"
        try:
            context["result"] = self._call(source, document)
        except _SourceError as exc:
            context["error"] = {"message": exc.message, "type": exc.error_type}
            if version == "2017-02-28" or response is None:
                raise GraphQLError(exc.message, extensions={"errorType": exc.error_type}) from exc
        if response is None:
            return context["result"]
        return _loads(self._render(response, context))

    def _call(self, source: DataSourceConfig, document: Any) -> Any:
        if not isinstance(document, dict):
            raise GraphQLError(
                "the request mapping template must render a JSON object", extensions={"errorType": "MappingTemplate"}
            )
        if source.type == "NONE":
            return document.get("payload")
        if source.type == "AWS_LAMBDA":
            if document.get("operation") not in ("Invoke", None):
                raise GraphQLError(
                    f"operation {document.get('operation')!r} is not supported locally (Invoke is)",
                    extensions={"errorType": "MappingTemplate"},
                )
            try:
                return self.door.invoke(source.function_arn, document.get("payload"))
            except LambdaInvocationError as exc:
                raise _SourceError(str(exc.payload.get("errorMessage", "")), "Lambda:Unhandled") from exc
            except _IntegrationFailure as exc:
                raise _SourceError(str(exc), "Lambda:IllegalArgument") from exc
        return _dynamodb(self.door, source, document)


class _SourceError(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.message, self.error_type = message, error_type


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise GraphQLError(
            f"Unable to parse the JSON document: {exc}", extensions={"errorType": "MappingTemplate"}
        ) from exc


def _selection_list(info: Any) -> list[str]:
    names: list[str] = []
    for node in info.field_nodes:
        for selection in getattr(node.selection_set, "selections", None) or ():
            name = getattr(getattr(selection, "name", None), "value", None)
            if name and not name.startswith("__"):
                names.append(name)
    return names


# ---------------------------------------------------------------------------------------------
# The DynamoDB data source: AppSync's request documents as DynamoDB API calls against moto
# ---------------------------------------------------------------------------------------------

_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")


def _expression(document: Any, prefix: str, request: dict[str, Any], key: str) -> None:
    """Copy an AppSync expression object (expression, expressionNames, expressionValues) into the API request."""
    if not document:
        return
    request[key] = document["expression"]
    if document.get("expressionNames"):
        request.setdefault("ExpressionAttributeNames", {}).update(document["expressionNames"])
    if document.get("expressionValues"):
        request.setdefault("ExpressionAttributeValues", {}).update(document["expressionValues"])


def _dynamodb(door: FrontDoor, source: DataSourceConfig, document: dict[str, Any]) -> Any:
    operation = document.get("operation")
    if operation not in _OPERATIONS:
        raise GraphQLError(
            f"Unsupported operation {operation!r} (the local cloud runs {', '.join(_OPERATIONS)})",
            extensions={"errorType": "MappingTemplate"},
        )
    request: dict[str, Any] = {"TableName": source.table_name}
    if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        request["Key" if operation != "PutItem" else "Item"] = dict(document.get("key") or {})
        if operation == "GetItem":
            request["ConsistentRead"] = bool(document.get("consistentRead", False))
        if operation == "PutItem":
            request["Item"].update(document.get("attributeValues") or {})
        if operation == "UpdateItem":
            _expression(document.get("update"), "", request, "UpdateExpression")
        if operation != "GetItem":
            _expression(document.get("condition"), "", request, "ConditionExpression")
            request["ReturnValues"] = "ALL_NEW" if operation == "UpdateItem" else "ALL_OLD"
    else:
        if operation == "Query":
            _expression(document.get("query"), "", request, "KeyConditionExpression")
            request["ScanIndexForward"] = bool(document.get("scanIndexForward", True))
        _expression(document.get("filter"), "", request, "FilterExpression")
        if document.get("index"):
            request["IndexName"] = document["index"]
        if document.get("limit") is not None:
            request["Limit"] = int(document["limit"])
        if document.get("consistentRead"):
            request["ConsistentRead"] = True
        token = document.get("nextToken")
        if token:
            try:
                request["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            except ValueError as exc:
                raise _SourceError("Invalid pagination token given.", "DynamoDB:InvalidPaginationToken") from exc
    with door._lock:
        status, _, payload = door._dispatcher.call(
            service="dynamodb",
            region=source.region or door.region,
            account_id=door.account_id,
            method="POST",
            path="/",
            query=[],
            headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{operation}"},
            body=json.dumps(request).encode(),
        )
    answer = json.loads(payload or b"{}")
    if status >= 400:
        code = str(answer.get("__type", "Error")).rsplit("#", 1)[-1]
        raise _SourceError(f"{answer.get('message') or answer.get('Message') or code}", f"DynamoDB:{code}")
    if operation in ("Query", "Scan"):
        last = answer.get("LastEvaluatedKey")
        return {
            "items": [from_attribute({"M": item}) for item in answer.get("Items", [])],
            "nextToken": base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None,
            "scannedCount": answer.get("ScannedCount", 0),
        }
    if operation == "PutItem":
        return from_attribute({"M": request["Item"]})
    item = answer.get("Attributes" if operation != "GetItem" else "Item")
    return from_attribute({"M": item}) if item else None


__all__ = ["door_clock", "find_api", "serve", "to_attribute"]
