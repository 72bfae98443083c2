"""AppSync's Velocity helpers on top of the front door's VTL engine (:mod:`.vtl`).

AppSync resolver mapping templates are Velocity like API Gateway's, with AppSync's ``$util``
(``toJson``, ``autoId``, ``error``/``appendError``/``unauthorized``, ``qr``, ``isNull``..., ``$util.dynamodb.*``,
``$util.time.*``) and ``$context``/``$ctx`` (arguments, source, identity, stash, result, prev, info).
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

from .vtl import UtilVariable, VtlError, _VtlObject, to_vtl_string


class TemplateError(Exception):
    """``$util.error`` / ``$util.unauthorized``: the field resolves to null with this GraphQL error."""

    def __init__(self, message: str, error_type: str | None = None, data: Any = None, info: Any = None) -> None:
        super().__init__(message)
        self.message, self.error_type, self.data, self.info = message, error_type, data, info


def to_attribute(value: Any) -> dict[str, Any]:
    """A plain value as a DynamoDB attribute value (what ``$util.dynamodb.toDynamoDB`` returns)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {
            "N": to_vtl_string(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
        }
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_attribute(v) for k, v in value.items()}}
    raise VtlError(f"$util.dynamodb: cannot convert {type(value).__name__}")


def from_attribute(attribute: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as the plain value AppSync puts in ``$ctx.result``."""
    ((kind, value),) = attribute.items()
    if kind == "S" or kind == "B":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "SS" or kind == "BS":
        return list(value)
    if kind == "NS":
        return [from_attribute({"N": v}) for v in value]
    raise VtlError(f"unknown DynamoDB attribute type {kind}")


def _json(value: Any) -> str:
    return json.dumps(_plain(value), separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, _VtlObject):
        return value.vtl_str()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _DynamoDbUtil(_VtlObject):
    """``$util.dynamodb``."""

    def vtl_call(self, name: str, args: list[Any]) -> Any:
        value = args[0] if args else None
        converters: dict[str, Any] = {
            "toDynamoDB": lambda: to_attribute(value),
            "toString": lambda: {"S": to_vtl_string(value)},
            "toNumber": lambda: to_attribute(value) if isinstance(value, int | float) else {"N": str(value)},
            "toBoolean": lambda: {"BOOL": bool(value)},
            "toNull": lambda: {"NULL": True},
            "toList": lambda: {"L": [to_attribute(v) for v in value or []]},
            "toMap": lambda: {"M": {k: to_attribute(v) for k, v in (value or {}).items()}},
            "toMapValues": lambda: {k: to_attribute(v) for k, v in (value or {}).items()},
            "toStringSet": lambda: {"SS": [to_vtl_string(v) for v in value or []]},
            "toNumberSet": lambda: {"NS": [str(v) for v in value or []]},
        }
        base = name[:-4] if name.endswith("Json") else name
        if base not in converters:
            raise VtlError(f"$util.dynamodb.{name}() is not supported by the local cloud")
        result = converters[base]()
        return _json(result) if name.endswith("Json") else result


class _TimeUtil(_VtlObject):
    """``$util.time``: the local cloud's clock."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock

    def vtl_call(self, name: str, args: list[Any]) -> Any:
        now = self.clock()
        if name == "nowISO8601":
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        if name == "nowEpochSeconds":
            return int(now)
        if name == "nowEpochMilliSeconds":
            return int(now * 1000)
        raise VtlError(f"$util.time.{name}() is not supported by the local cloud")


class AppSyncUtil(UtilVariable):
    """``$util`` of AppSync resolver templates; ``errors`` collects ``$util.appendError`` calls."""

    def __init__(self, clock: Any = time.time) -> None:
        self.errors: list[TemplateError] = []
        self._dynamodb = _DynamoDbUtil()
        self._time = _TimeUtil(clock)

    def vtl_get(self, name: str) -> Any:
        if name == "dynamodb":
            return self._dynamodb
        if name == "time":
            return self._time
        return super().vtl_get(name)

    def vtl_call(self, name: str, args: list[Any]) -> Any:
        first = args[0] if args else None
        if name in ("qr", "quiet"):
            return ""
        if name == "toJson":
            return _json(first)
        if name == "autoId":
            return str(uuid.uuid4())
        if name in ("error", "appendError"):
            error = TemplateError(
                to_vtl_string(first),
                to_vtl_string(args[1]) if len(args) > 1 and args[1] is not None else None,
                _plain(args[2]) if len(args) > 2 else None,
                _plain(args[3]) if len(args) > 3 else None,
            )
            if name == "error":
                raise error
            self.errors.append(error)
            return ""
        if name == "unauthorized":
            raise TemplateError("Unauthorized", "Unauthorized")
        if name == "validate":
            if first is not True:
                raise TemplateError(to_vtl_string(args[1]), to_vtl_string(args[2]) if len(args) > 2 else None)
            return ""
        checks: dict[str, Any] = {
            "isNull": lambda: first is None,
            "isNullOrEmpty": lambda: first is None or first in ("", [], {}),
            "isNullOrBlank": lambda: first is None or (isinstance(first, str) and not first.strip()),
            "isString": lambda: isinstance(first, str),
            "isNumber": lambda: isinstance(first, int | float) and not isinstance(first, bool),
            "isBoolean": lambda: isinstance(first, bool),
            "isList": lambda: isinstance(first, list),
            "isMap": lambda: isinstance(first, dict),
            "defaultIfNull": lambda: args[1] if first is None else first,
            "defaultIfNullOrEmpty": lambda: args[1] if first is None or first in ("", [], {}) else first,
            "defaultIfNullOrBlank": lambda: args[1] if first is None or not str(first).strip() else first,
            "typeOf": lambda: _type_of(first),
            "matches": lambda: __import__("re").fullmatch(str(first), to_vtl_string(args[1])) is not None,
        }
        if name in checks:
            return checks[name]()
        return super().vtl_call(name, args)


def _type_of(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "List"
    return "Map" if isinstance(value, dict) else "Object"
