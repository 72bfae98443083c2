"""A small Apache Velocity (VTL 1.7) evaluator for API Gateway mapping templates.

API Gateway transforms requests and responses of non-proxy integrations with Velocity templates.
The local front door needs the same transformation so that a "storage-first" API (API Gateway →
SQS/Kinesis/DynamoDB/...) puts exactly what it would put on AWS. Only the subset API Gateway
templates use is implemented; anything else raises :class:`VtlError` naming the construct, so an
unsupported template fails loudly instead of producing a silently different payload.

Supported: ``$ref``, ``$!ref``, ``${ref}``, properties, method calls and ``[index]`` on references;
``#set``, ``#if``/``#elseif``/``#else``/``#end``, ``#foreach`` (``$foreach.hasNext``, ``.index``,
``.count``, ``.first``, ``.last``, ``$velocityCount``, ``$velocityHasNext``), ``#break``, ``#stop``,
``##`` and ``#* *#`` comments, ``#[[unparsed]]#``; literals (strings, numbers, booleans, ``null``,
lists, maps, ranges ``[1..3]``), arithmetic, comparison and boolean operators (also ``eq``/``and``/...).
The Java methods templates call on strings, lists and maps are mapped to Python (``size``, ``get``,
``keySet``, ``replaceAll``, ``substring``, ...).

Velocity 1.7 semantics kept on purpose: only ``null`` and ``false`` are false in ``#if``;
``#set($x = <null>)`` leaves ``$x`` unchanged; ``+`` is arithmetic only; maps and lists render like
Java (``{a=1}``, ``[1, 2]``). One deliberate deviation: a ``null`` reference renders as an empty
string (Velocity would print the reference source), matching what API Gateway templates produce.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .vtl_syntax import (
    VtlError,
    VtlInputError,
    _Binary,
    _Break,
    _BreakSignal,
    _Foreach,
    _If,
    _Interpolated,
    _ListExpr,
    _Literal,
    _MapExpr,
    _parse,
    _RangeExpr,
    _Ref,
    _Set,
    _Stop,
    _StopSignal,
    _Text,
    _Unary,
)

__all__ = [
    "CaseInsensitiveDict",
    "InputVariable",
    "Template",
    "UtilVariable",
    "VtlError",
    "VtlInputError",
    "escape_javascript",
    "java_url_encode",
    "json_path",
    "render",
    "to_vtl_string",
]


# --------------------------------------------------------------------------------------------
# Runtime values
# --------------------------------------------------------------------------------------------


class CaseInsensitiveDict(dict[str, Any]):
    """A header map: ``get``/``[]``/``containsKey`` ignore case, like API Gateway's header lookups."""

    def _key(self, key: Any) -> Any:
        if isinstance(key, str) and not dict.__contains__(self, key):
            lowered = key.lower()
            for existing in self:
                if existing.lower() == lowered:
                    return existing
        return key

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, self._key(key), default)


class _VtlObject:
    """Base for built-in template objects ($input, $util): properties and methods by name."""

    def vtl_get(self, name: str) -> Any:
        raise VtlError(f"unknown property .{name} on {type(self).__name__}")

    def vtl_call(self, name: str, args: list[Any]) -> Any:
        raise VtlError(f"unknown method .{name}() on {type(self).__name__}")

    def vtl_str(self) -> str:
        return ""


def json_path(document: Any, path: str) -> Any:
    """Evaluate the JSONPath subset API Gateway templates use ($, .a, ['a'], [0], [*], .*, ..a).

    A path with a wildcard or recursive descent returns a list; a missing member returns None.
    """
    path = path.strip()
    if not path.startswith("$"):
        raise VtlError(f"JSONPath must start with '$': {path!r}")
    tokens = _json_path_tokens(path[1:])
    results: list[Any] = [document]
    multi = False
    for kind, value in tokens:
        next_results: list[Any] = []
        for node in results:
            if kind == "key":
                if isinstance(node, dict) and value in node:
                    next_results.append(node[value])
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= value < len(node):
                    next_results.append(node[value])
            elif kind == "wildcard":
                multi = True
                if isinstance(node, dict):
                    next_results.extend(node.values())
                elif isinstance(node, list):
                    next_results.extend(node)
            elif kind == "descend":
                multi = True
                next_results.extend(_descend(node, value))
        results = next_results
    if multi:
        return results
    return results[0] if results else None


def _descend(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        if key == "*":
            yield from node.values()
        elif key in node:
            yield node[key]
        for child in node.values():
            yield from _descend(child, key)
    elif isinstance(node, list):
        for child in node:
            if key == "*":
                yield child
            yield from _descend(child, key)


def _json_path_tokens(path: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(path):
        if path.startswith("..", pos):
            match = re.compile(r"\.\.(\*|[^.\[\]]+)").match(path, pos)
            if not match:
                raise VtlError(f"unsupported JSONPath {path!r}")
            tokens.append(("descend", match.group(1)))
            pos = match.end()
        elif path[pos] == ".":
            match = re.compile(r"\.(\*|[^.\[\]]+)").match(path, pos)
            if not match:
                raise VtlError(f"unsupported JSONPath {path!r}")
            name = match.group(1)
            tokens.append(("wildcard", None) if name == "*" else ("key", name))
            pos = match.end()
        elif path[pos] == "[":
            end = path.find("]", pos)
            if end < 0:
                raise VtlError(f"unsupported JSONPath {path!r}")
            inner = path[pos + 1 : end].strip()
            if inner == "*":
                tokens.append(("wildcard", None))
            elif re.fullmatch(r"-?\d+", inner):
                tokens.append(("index", int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                tokens.append(("key", inner[1:-1]))
            else:
                raise VtlError(f"JSONPath filters/unions are not supported: {path!r}")
            pos = end + 1
        else:
            raise VtlError(f"unsupported JSONPath {path!r}")
    return tokens


class InputVariable(_VtlObject):
    """``$input``: the method request body and parameters."""

    def __init__(
        self,
        body: str,
        path_params: Mapping[str, str],
        query_params: Mapping[str, str],
        headers: Mapping[str, str],
    ) -> None:
        self.body = body
        self.params_map = {
            "path": dict(path_params),
            "querystring": dict(query_params),
            "header": CaseInsensitiveDict(headers),
        }
        self._parsed: Any = None
        self._parsed_done = False

    def _document(self) -> Any:
        if not self._parsed_done:
            text = self.body.strip()
            if not text:
                self._parsed = {}
            else:
                try:
                    self._parsed = json.loads(text)
                except ValueError as exc:
                    raise VtlInputError(f"Could not parse request body into json: {exc}") from exc
            self._parsed_done = True
        return self._parsed

    def vtl_get(self, name: str) -> Any:
        if name == "body":
            return self.body
        return super().vtl_get(name)

    def vtl_call(self, name: str, args: list[Any]) -> Any:
        if name == "json":
            value = json_path(self._document(), _arg_str(args, 0, "$input.json"))
            return "" if value is None else json.dumps(value, separators=(",", ":"))
        if name == "path":
            return json_path(self._document(), _arg_str(args, 0, "$input.path"))
        if name == "params":
            if not args:
                return self.params_map
            wanted = str(args[0])
            for source in ("path", "querystring", "header"):
                value = self.params_map[source].get(wanted)
                if value is not None:
                    return value
            return ""
        if name == "getBody":
            return self.body
        return super().vtl_call(name, args)

    def vtl_str(self) -> str:
        return self.body


def escape_javascript(value: str) -> str:
    """Java StringEscapeUtils.escapeJavaScript, as API Gateway's $util.escapeJavaScript does."""
    out: list[str] = []
    simple = {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n"}
    simple |= {"\r": "\\r", "\t": "\\t"}
    for ch in value:
        code = ord(ch)
        if ch in simple:
            out.append(simple[ch])
        elif code < 32:
            out.append(f"\\u{code:04X}")
        elif code > 0x7E:
            if code > 0xFFFF:
                encoded = ch.encode("utf-16-be")
                out.append(f"\\u{encoded[0:2].hex().upper()}\\u{encoded[2:4].hex().upper()}")
            else:
                out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    return "".join(out)


def java_url_encode(value: str) -> str:
    """java.net.URLEncoder.encode(value, "UTF-8"): spaces become '+', '*' is kept, '~' is encoded."""
    return urllib.parse.quote_plus(value, safe="*").replace("~", "%7E")


class UtilVariable(_VtlObject):
    """``$util``: the helper functions API Gateway offers in mapping templates."""

    def vtl_call(self, name: str, args: list[Any]) -> Any:
        text = "" if not args or args[0] is None else to_vtl_string(args[0])
        if name == "escapeJavaScript":
            return escape_javascript(text)
        if name == "urlEncode":
            return java_url_encode(text)
        if name == "urlDecode":
            return urllib.parse.unquote_plus(text)
        if name == "base64Encode":
            return base64.b64encode(text.encode("utf-8")).decode("ascii")
        if name == "base64Decode":
            return base64.b64decode(text.encode("ascii") + b"==").decode("utf-8", errors="replace")
        if name == "parseJson":
            try:
                return json.loads(text)
            except ValueError as exc:
                raise VtlError(f"$util.parseJson: invalid JSON: {exc}") from exc
        return super().vtl_call(name, args)


def _arg_str(args: list[Any], index: int, what: str) -> str:
    if len(args) <= index:
        raise VtlError(f"{what} needs an argument")
    return to_vtl_string(args[index])


def to_vtl_string(value: Any) -> str:
    """Render a value the way Velocity prints Java objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e7:
            return f"{int(value)}.0"
        return repr(value).replace("e+", "E").replace("e-", "E-")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_vtl_string(k)}={to_vtl_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_vtl_string(v) for v in value) + "]"
    if isinstance(value, _VtlObject):
        return value.vtl_str()
    return str(value)


# --------------------------------------------------------------------------------------------
# Java-ish methods on plain values
# --------------------------------------------------------------------------------------------


def _java_regex_replacement(replacement: str) -> str:
    """Translate a Java replacement string ($1, \\$) into Python's (\\g<1>, $)."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
            continue
        if ch == "$":
            match = re.compile(r"\$(\d+)").match(replacement, i)
            if match:
                out.append(f"\\g<{match.group(1)}>")
                i = match.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _java_split(text: str, regex: str) -> list[str]:
    parts = re.split(regex, text)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _string_method(value: str, name: str, args: list[Any]) -> Any:
    s = [to_vtl_string(a) if not isinstance(a, int | float) or isinstance(a, bool) else a for a in args]
    methods: dict[str, Callable[[], Any]] = {
        "length": lambda: len(value),
        "size": lambda: len(value),
        "isEmpty": lambda: not value,
        "toLowerCase": value.lower,
        "toUpperCase": value.upper,
        "trim": value.strip,
        "toString": lambda: value,
        "replace": lambda: value.replace(str(s[0]), str(s[1])),
        "replaceAll": lambda: re.sub(str(s[0]), _java_regex_replacement(str(s[1])), value),
        "replaceFirst": lambda: re.sub(str(s[0]), _java_regex_replacement(str(s[1])), value, count=1),
        "substring": lambda: value[int(s[0]) : int(s[1])] if len(s) > 1 else value[int(s[0]) :],
        "indexOf": lambda: value.find(str(s[0])),
        "lastIndexOf": lambda: value.rfind(str(s[0])),
        "startsWith": lambda: value.startswith(str(s[0])),
        "endsWith": lambda: value.endswith(str(s[0])),
        "contains": lambda: str(s[0]) in value,
        "equals": lambda: value == to_vtl_string(args[0]),
        "equalsIgnoreCase": lambda: value.lower() == to_vtl_string(args[0]).lower(),
        "split": lambda: _java_split(value, str(s[0])),
        "charAt": lambda: value[int(s[0])],
        "matches": lambda: re.fullmatch(str(s[0]), value) is not None,
        "concat": lambda: value + str(s[0]),
    }
    if name not in methods:
        raise VtlError(f"unsupported String method .{name}()")
    return methods[name]()


def _list_method(value: list[Any], name: str, args: list[Any]) -> Any:
    if name in ("size", "length"):
        return len(value)
    if name == "isEmpty":
        return not value
    if name == "get":
        return value[int(args[0])] if -len(value) <= int(args[0]) < len(value) else None
    if name == "contains":
        return args[0] in value
    if name == "add":
        value.append(args[0])
        return True
    if name == "addAll":
        value.extend(args[0] or [])
        return True
    if name == "indexOf":
        return value.index(args[0]) if args[0] in value else -1
    if name == "subList":
        return value[int(args[0]) : int(args[1])]
    if name == "toString":
        return to_vtl_string(value)
    raise VtlError(f"unsupported List method .{name}()")


def _map_method(value: dict[Any, Any], name: str, args: list[Any]) -> Any:
    if name == "get":
        return value.get(args[0])
    if name in ("size", "length"):
        return len(value)
    if name == "isEmpty":
        return not value
    if name == "containsKey":
        return args[0] in value
    if name == "containsValue":
        return args[0] in value.values()
    if name == "keySet":
        return list(value.keys())
    if name == "values":
        return list(value.values())
    if name == "entrySet":
        return [{"key": k, "value": v} for k, v in value.items()]
    if name == "put":
        previous = value.get(args[0])
        value[args[0]] = args[1]
        return previous
    if name == "putAll":
        value.update(args[0] or {})
        return None
    if name == "remove":
        return value.pop(args[0], None)
    if name == "toString":
        return to_vtl_string(value)
    raise VtlError(f"unsupported Map method .{name}()")


def _call_method(target: Any, name: str, args: list[Any]) -> Any:
    if target is None:
        return None
    if isinstance(target, _VtlObject):
        return target.vtl_call(name, args)
    if isinstance(target, str):
        return _string_method(target, name, args)
    if isinstance(target, list):
        return _list_method(target, name, args)
    if isinstance(target, dict):
        return _map_method(target, name, args)
    if isinstance(target, bool | int | float):
        if name == "toString":
            return to_vtl_string(target)
        if name in ("intValue", "longValue"):
            return int(target)
        if name in ("doubleValue", "floatValue"):
            return float(target)
        if name == "equals":
            return target == args[0]
    raise VtlError(f"unsupported method .{name}() on {type(target).__name__}")


def _get_property(target: Any, name: str) -> Any:
    if target is None:
        return None
    if isinstance(target, _VtlObject):
        return target.vtl_get(name)
    if isinstance(target, dict):
        return target.get(name)
    # Velocity introspection: $list.empty → isEmpty(), $s.length is not a property (needs parens).
    getter = {"empty": "isEmpty", "size": "size"}.get(name)
    if getter and isinstance(target, list | str):
        return _call_method(target, getter, [])
    raise VtlError(f"unsupported property .{name} on {type(target).__name__}")


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("==", "!="):
        if _is_number(left) and _is_number(right):
            equal = left == right
        elif left is None or right is None:
            equal = left is None and right is None
        elif type(left) is type(right):
            equal = left == right
        else:
            equal = to_vtl_string(left) == to_vtl_string(right)
        return equal if op == "==" else not equal
    comparable = (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))
    if not comparable:
        return False
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if not (_is_number(left) and _is_number(right)):
        return None
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return None
    if op == "/":
        if isinstance(left, int) and isinstance(right, int):
            quotient = abs(left) // abs(right)
            return quotient if (left >= 0) == (right >= 0) else -quotient
        return left / right
    if isinstance(left, int) and isinstance(right, int):
        return int(left - right * int(left / right))
    return left % right


class _Evaluator:
    def __init__(self, variables: dict[str, Any]) -> None:
        self.vars = variables

    def render_nodes(self, nodes: tuple[Any, ...], out: list[str]) -> None:
        for node in nodes:
            self.render_node(node, out)

    def render_node(self, node: Any, out: list[str]) -> None:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Ref):
            out.append(to_vtl_string(self.eval_ref(node)))
        elif isinstance(node, _Set):
            self.assign(node.target, self.eval(node.value))
        elif isinstance(node, _If):
            for condition, body in node.branches:
                if _truthy(self.eval(condition)):
                    self.render_nodes(body, out)
                    return
            self.render_nodes(node.otherwise, out)
        elif isinstance(node, _Foreach):
            self.run_foreach(node, out)
        elif isinstance(node, _Break):
            raise _BreakSignal()
        elif isinstance(node, _Stop):
            raise _StopSignal()
        else:  # pragma: no cover - parser only produces the nodes above
            raise VtlError(f"unknown node {node!r}")

    def run_foreach(self, node: _Foreach, out: list[str]) -> None:
        iterable = self.eval(node.iterable)
        if isinstance(iterable, dict):
            items = list(iterable.values())
        elif isinstance(iterable, list | tuple):
            items = list(iterable)
        else:
            items = []
        loop_names = (node.var, "foreach", "velocityCount", "velocityHasNext")
        saved = {name: self.vars.get(name, _MISSING) for name in loop_names}
        try:
            for index, item in enumerate(items):
                has_next = index < len(items) - 1
                self.vars[node.var] = item
                self.vars["foreach"] = {
                    "index": index,
                    "count": index + 1,
                    "hasNext": has_next,
                    "first": index == 0,
                    "last": not has_next,
                }
                self.vars["velocityCount"] = index + 1
                self.vars["velocityHasNext"] = has_next
                try:
                    self.render_nodes(node.body, out)
                except _BreakSignal:
                    break
        finally:
            for name, value in saved.items():
                if value is _MISSING:
                    self.vars.pop(name, None)
                else:
                    self.vars[name] = value

    def assign(self, target: _Ref, value: Any) -> None:
        if value is None:
            return  # Velocity 1.7: assigning null leaves the reference unchanged
        if not target.suffixes:
            self.vars[target.name] = value
            return
        container = self.vars.get(target.name)
        for suffix in target.suffixes[:-1]:
            container = self.apply_suffix(container, suffix)
        last = target.suffixes[-1]
        if last[0] == "prop" and isinstance(container, dict):
            container[last[1]] = value
        elif last[0] == "index" and isinstance(container, dict | list):
            container[self.eval(last[1])] = value
        else:
            raise VtlError(f"cannot #set {target.name} with suffix {last[0]}")

    def eval_ref(self, ref: _Ref) -> Any:
        value = self.vars.get(ref.name)
        for suffix in ref.suffixes:
            value = self.apply_suffix(value, suffix)
        return value

    def apply_suffix(self, value: Any, suffix: tuple[Any, ...]) -> Any:
        kind = suffix[0]
        if kind == "prop":
            return _get_property(value, suffix[1])
        if kind == "call":
            return _call_method(value, suffix[1], [self.eval(arg) for arg in suffix[2]])
        index = self.eval(suffix[1])
        if value is None:
            return None
        if isinstance(value, list):
            return value[index] if isinstance(index, int) and -len(value) <= index < len(value) else None
        if isinstance(value, dict):
            return value.get(index)
        if isinstance(value, str) and isinstance(index, int):
            return value[index] if -len(value) <= index < len(value) else None
        raise VtlError(f"cannot index {type(value).__name__}")

    def eval(self, expr: Any) -> Any:
        if isinstance(expr, _Literal):
            return expr.value
        if isinstance(expr, _Ref):
            return self.eval_ref(expr)
        if isinstance(expr, _Interpolated):
            out: list[str] = []
            self.render_nodes(expr.nodes, out)
            return "".join(out)
        if isinstance(expr, _ListExpr):
            return [self.eval(item) for item in expr.items]
        if isinstance(expr, _RangeExpr):
            start, end = int(self.eval(expr.start)), int(self.eval(expr.end))
            step = 1 if end >= start else -1
            return list(range(start, end + step, step))
        if isinstance(expr, _MapExpr):
            return {self.eval(k): self.eval(v) for k, v in expr.items}
        if isinstance(expr, _Unary):
            operand = self.eval(expr.operand)
            if expr.op == "!":
                return not _truthy(operand)
            return -operand if _is_number(operand) else None
        if isinstance(expr, _Binary):
            if expr.op == "&&":
                return _truthy(self.eval(expr.left)) and _truthy(self.eval(expr.right))
            if expr.op == "||":
                return _truthy(self.eval(expr.left)) or _truthy(self.eval(expr.right))
            left, right = self.eval(expr.left), self.eval(expr.right)
            if expr.op in ("==", "!=", "<", ">", "<=", ">="):
                return _compare(expr.op, left, right)
            return _arithmetic(expr.op, left, right)
        raise VtlError(f"unknown expression {expr!r}")


_MISSING = object()


class Template:
    """A parsed template; parse once, render many times with different variables."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = _parse(source)

    def render(self, variables: dict[str, Any]) -> str:
        """Render with ``variables`` (mutated by ``#set``, as Velocity's context is)."""
        out: list[str] = []
        try:
            _Evaluator(variables).render_nodes(self.nodes, out)
        except _StopSignal:
            pass
        except _BreakSignal:
            pass
        except VtlError:
            raise
        except (TypeError, ValueError, IndexError, KeyError, re.error) as exc:
            raise VtlError(f"template evaluation failed: {exc}") from exc
        return "".join(out)


def render(source: str, variables: dict[str, Any]) -> str:
    """Parse (cached) and render ``source`` with ``variables``."""
    return Template(source).render(variables)
