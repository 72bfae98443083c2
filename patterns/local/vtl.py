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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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


class VtlError(Exception):
    """A template uses syntax or a method this evaluator does not support, or is malformed."""


class VtlInputError(VtlError):
    """The request body could not be parsed as JSON for ``$input.json``/``$input.path``."""


# --------------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Ref:
    """A reference: root variable name followed by property/call/index suffixes."""

    name: str
    suffixes: tuple[tuple[Any, ...], ...]
    quiet: bool = False


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Interpolated:
    """A double-quoted string literal: rendered as a template in the current context."""

    nodes: tuple[Any, ...]


@dataclass(frozen=True)
class _ListExpr:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _RangeExpr:
    start: Any
    end: Any


@dataclass(frozen=True)
class _MapExpr:
    items: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class _Unary:
    op: str
    operand: Any


@dataclass(frozen=True)
class _Binary:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class _Set:
    target: _Ref
    value: Any


@dataclass(frozen=True)
class _If:
    branches: tuple[tuple[Any, tuple[Any, ...]], ...]
    otherwise: tuple[Any, ...]


@dataclass(frozen=True)
class _Foreach:
    var: str
    iterable: Any
    body: tuple[Any, ...]


@dataclass(frozen=True)
class _Break:
    pass


@dataclass(frozen=True)
class _Stop:
    pass


class _BreakSignal(Exception):
    pass


class _StopSignal(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Property names may contain hyphens (Velocity 1.7 identifiers; e.g. responseOverride.header.Content-Type).
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z][A-Za-z0-9_]*)*")
_DIRECTIVE = re.compile(r"#(?:\{([a-z]+)\}|([a-z]+)(?![A-Za-z0-9_]))")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_BLOCK_DIRECTIVES = ("if", "elseif", "else", "end", "foreach", "set", "break", "stop")
_UNSUPPORTED_DIRECTIVES = ("macro", "parse", "include", "evaluate", "define")
_WORD_OPERATORS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "and": "&&", "or": "||"}


class _Parser:
    """Recursive-descent parser over the template source (text level and expression level)."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0

    # ---- text level -------------------------------------------------------------------------
    def parse(self) -> tuple[Any, ...]:
        nodes, _, _ = self._parse_nodes(())
        return nodes

    def _parse_nodes(self, terminators: tuple[str, ...]) -> tuple[tuple[Any, ...], str | None, bool]:
        """Parse until one of ``terminators`` (returned unconsumed, with its gobble flag) or the end."""
        nodes: list[Any] = []
        text: list[str] = []

        def flush() -> None:
            if text:
                nodes.append(_Text("".join(text)))
                text.clear()

        src = self.src
        while self.pos < len(src):
            ch = src[self.pos]
            if ch == "\\" and self.pos + 1 < len(src) and src[self.pos + 1] in "$#":
                text.append(src[self.pos + 1])
                self.pos += 2
                continue
            if ch == "$":
                ref = self._try_reference()
                if ref is None:
                    text.append("$")
                    self.pos += 1
                else:
                    flush()
                    nodes.append(ref)
                continue
            if ch == "#":
                if self._try_comment(text):
                    continue
                name = self._directive_name()
                if name is None:
                    text.append("#")
                    self.pos += 1
                    continue
                if name in _UNSUPPORTED_DIRECTIVES:
                    raise VtlError(f"#{name} is not supported by the local API Gateway template engine")
                gobble = self._alone_on_line()
                if gobble:
                    self._strip_line_indent(text)
                flush()
                if name in terminators:
                    return tuple(nodes), name, gobble
                if name in ("else", "elseif", "end"):
                    raise VtlError(f"unexpected #{name} at offset {self.pos}")
                nodes.append(self._parse_directive(name, gobble))
                continue
            text.append(ch)
            self.pos += 1
        flush()
        return tuple(nodes), None, False

    def _try_comment(self, text: list[str]) -> bool:
        src = self.src
        if src.startswith("##", self.pos):
            end = src.find("\n", self.pos)
            if end < 0:
                self.pos = len(src)
            else:
                # A comment alone on its line leaves no blank line behind.
                line_start = src.rfind("\n", 0, self.pos) + 1
                if not src[line_start : self.pos].strip(" \t"):
                    self._strip_line_indent(text)
                    self.pos = end + 1
                else:
                    self.pos = end
            return True
        if src.startswith("#*", self.pos):
            end = src.find("*#", self.pos + 2)
            if end < 0:
                raise VtlError("unterminated #* comment")
            self.pos = end + 2
            return True
        if src.startswith("#[[", self.pos):
            end = src.find("]]#", self.pos + 3)
            if end < 0:
                raise VtlError("unterminated #[[ unparsed block")
            text.append(src[self.pos + 3 : end])
            self.pos = end + 3
            return True
        return False

    def _directive_name(self) -> str | None:
        """The directive at self.pos (not consumed), or None when the '#' is plain text."""
        match = _DIRECTIVE.match(self.src, self.pos)
        if not match:
            return None
        name = match.group(1) or match.group(2)
        return name if name in _BLOCK_DIRECTIVES or name in _UNSUPPORTED_DIRECTIVES else None

    def _consume_directive_token(self, name: str) -> None:
        self.pos += len(name) + (3 if self.src[self.pos + 1] == "{" else 1)

    def _directive_header_end(self) -> int:
        """Offset just after the directive at self.pos including its (...) arguments."""
        save = self.pos
        try:
            name = self._directive_name()
            assert name is not None
            self._consume_directive_token(name)
            if name not in ("if", "elseif", "foreach", "set"):
                return self.pos
            self._skip_ws()
            if self._peek() != "(":
                raise VtlError(f"#{name} needs '('")
            depth = 0
            quote: str | None = None
            while self.pos < len(self.src):
                ch = self.src[self.pos]
                self.pos += 1
                if quote:
                    if ch == quote:
                        quote = None
                elif ch in "'\"":
                    quote = ch
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        return self.pos
            raise VtlError(f"unterminated #{name}(")
        finally:
            self.pos = save

    def _alone_on_line(self) -> bool:
        """Velocity-2 style "lines" gobbling: a directive alone on its line leaves no blank line."""
        src = self.src
        line_start = src.rfind("\n", 0, self.pos) + 1
        if src[line_start : self.pos].strip(" \t"):
            return False
        end = self._directive_header_end()
        newline = src.find("\n", end)
        tail = src[end:] if newline < 0 else src[end:newline]
        return not tail.strip(" \t\r")

    @staticmethod
    def _strip_line_indent(text: list[str]) -> None:
        stripped = "".join(text).rstrip(" \t")
        text.clear()
        if stripped:
            text.append(stripped)

    def _gobble_line_end(self, gobble: bool) -> None:
        if not gobble:
            return
        src = self.src
        while self.pos < len(src) and src[self.pos] in " \t\r":
            self.pos += 1
        if self.pos < len(src) and src[self.pos] == "\n":
            self.pos += 1

    def _parse_condition(self, directive: str) -> Any:
        self._expect_open_paren(directive)
        condition = self._parse_expression()
        self._expect(")")
        return condition

    def _parse_directive(self, name: str, gobble: bool) -> Any:
        self._consume_directive_token(name)
        if name == "set":
            self._expect_open_paren("set")
            self._skip_ws()
            target = self._parse_reference_expr()
            if target is None:
                raise VtlError("#set needs a reference on the left-hand side")
            self._skip_ws()
            if self._peek() != "=":
                raise VtlError("#set needs '='")
            self.pos += 1
            value = self._parse_expression()
            self._expect(")")
            self._gobble_line_end(gobble)
            return _Set(target, value)
        if name == "if":
            branches: list[tuple[Any, tuple[Any, ...]]] = []
            otherwise: tuple[Any, ...] = ()
            condition = self._parse_condition("if")
            self._gobble_line_end(gobble)
            body, term, term_gobble = self._parse_nodes(("elseif", "else", "end"))
            branches.append((condition, body))
            while term == "elseif":
                self._consume_directive_token("elseif")
                condition = self._parse_condition("elseif")
                self._gobble_line_end(term_gobble)
                body, term, term_gobble = self._parse_nodes(("elseif", "else", "end"))
                branches.append((condition, body))
            if term == "else":
                self._consume_directive_token("else")
                self._gobble_line_end(term_gobble)
                otherwise, term, term_gobble = self._parse_nodes(("end",))
            if term != "end":
                raise VtlError("#if without #end")
            self._consume_directive_token("end")
            self._gobble_line_end(term_gobble)
            return _If(tuple(branches), otherwise)
        if name == "foreach":
            self._expect_open_paren("foreach")
            self._skip_ws()
            var = self._parse_reference_expr()
            if var is None or var.suffixes:
                raise VtlError("#foreach needs a simple loop variable")
            self._skip_ws()
            if not self.src.startswith("in", self.pos):
                raise VtlError("#foreach needs 'in'")
            self.pos += 2
            iterable = self._parse_expression()
            self._expect(")")
            self._gobble_line_end(gobble)
            body, term, term_gobble = self._parse_nodes(("end",))
            if term != "end":
                raise VtlError("#foreach without #end")
            self._consume_directive_token("end")
            self._gobble_line_end(term_gobble)
            return _Foreach(var.name, iterable, body)
        self._gobble_line_end(gobble)
        return _Break() if name == "break" else _Stop()

    # ---- references ---------------------------------------------------------------------------
    def _try_reference(self) -> _Ref | None:
        save = self.pos
        ref = self._parse_reference_expr()
        if ref is None:
            self.pos = save
        return ref

    def _parse_reference_expr(self) -> _Ref | None:
        src = self.src
        self._skip_ws_if_expression()
        if self._peek() != "$":
            return None
        pos = self.pos + 1
        quiet = False
        if pos < len(src) and src[pos] == "!":
            quiet = True
            pos += 1
        braced = pos < len(src) and src[pos] == "{"
        if braced:
            pos += 1
        match = _IDENT.match(src, pos)
        if not match:
            return None
        name = match.group(0)
        self.pos = match.end()
        suffixes = self._parse_suffixes()
        if braced:
            if self._peek() != "}":
                return None
            self.pos += 1
        return _Ref(name, tuple(suffixes), quiet)

    def _parse_suffixes(self) -> list[tuple[Any, ...]]:
        src = self.src
        suffixes: list[tuple[Any, ...]] = []
        while self.pos < len(src):
            ch = src[self.pos]
            if ch == ".":
                match = _PROPERTY.match(src, self.pos + 1)
                if not match:
                    break
                member = match.group(0)
                self.pos = match.end()
                if self._peek() == "(":
                    self.pos += 1
                    args = self._parse_arguments(")")
                    suffixes.append(("call", member, tuple(args)))
                else:
                    suffixes.append(("prop", member))
            elif ch == "[":
                save = self.pos
                self.pos += 1
                try:
                    index = self._parse_expression()
                    self._expect("]")
                except VtlError:
                    self.pos = save
                    break
                suffixes.append(("index", index))
            else:
                break
        return suffixes

    def _parse_arguments(self, closing: str) -> list[Any]:
        args: list[Any] = []
        self._skip_ws()
        if self._peek() == closing:
            self.pos += 1
            return args
        while True:
            args.append(self._parse_expression())
            self._skip_ws()
            ch = self._peek()
            if ch == ",":
                self.pos += 1
                continue
            if ch == closing:
                self.pos += 1
                return args
            raise VtlError(f"expected ',' or '{closing}' at offset {self.pos}")

    # ---- expression level ----------------------------------------------------------------------
    _in_expression = False

    def _skip_ws_if_expression(self) -> None:
        if self._in_expression:
            self._skip_ws()

    def _skip_ws(self) -> None:
        src = self.src
        while self.pos < len(src) and src[self.pos] in " \t\r\n":
            self.pos += 1

    def _peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def _expect(self, token: str) -> None:
        self._skip_ws()
        if not self.src.startswith(token, self.pos):
            raise VtlError(f"expected {token!r} at offset {self.pos} in template")
        self.pos += len(token)

    def _expect_open_paren(self, directive: str) -> None:
        self._skip_ws()
        if self._peek() != "(":
            raise VtlError(f"#{directive} needs '('")
        self.pos += 1

    def _parse_expression(self) -> Any:
        outer = self._in_expression
        self._in_expression = True
        try:
            return self._parse_or()
        finally:
            self._in_expression = outer

    def _match_operator(self, *operators: str) -> str | None:
        self._skip_ws()
        for op in operators:
            if op.isalpha():
                if self.src.startswith(op, self.pos) and not _IDENT.match(self.src, self.pos + len(op)):
                    self.pos += len(op)
                    return _WORD_OPERATORS.get(op, op)
            elif self.src.startswith(op, self.pos):
                if op in ("<", ">", "!") and self.src.startswith("=", self.pos + 1):
                    continue
                if op == "=" and self.src.startswith("==", self.pos):
                    continue
                self.pos += len(op)
                return op
        return None

    def _parse_or(self) -> Any:
        left = self._parse_and()
        while self._match_operator("||", "or"):
            left = _Binary("||", left, self._parse_and())
        return left

    def _parse_and(self) -> Any:
        left = self._parse_not()
        while self._match_operator("&&", "and"):
            left = _Binary("&&", left, self._parse_not())
        return left

    def _parse_not(self) -> Any:
        if self._match_operator("!", "not"):
            return _Unary("!", self._parse_not())
        return self._parse_comparison()

    def _parse_comparison(self) -> Any:
        left = self._parse_additive()
        op = self._match_operator("==", "!=", "<=", ">=", "<", ">", "eq", "ne", "le", "ge", "lt", "gt")
        if op:
            return _Binary(op, left, self._parse_additive())
        return left

    def _parse_additive(self) -> Any:
        left = self._parse_multiplicative()
        while True:
            op = self._match_operator("+", "-")
            if not op:
                return left
            left = _Binary(op, left, self._parse_multiplicative())

    def _parse_multiplicative(self) -> Any:
        left = self._parse_unary()
        while True:
            op = self._match_operator("*", "/", "%")
            if not op:
                return left
            left = _Binary(op, left, self._parse_unary())

    def _parse_unary(self) -> Any:
        self._skip_ws()
        if self._peek() == "-" and not _NUMBER.match(self.src, self.pos):
            self.pos += 1
            return _Unary("-", self._parse_unary())
        return self._parse_primary()

    def _parse_primary(self) -> Any:
        self._skip_ws()
        src = self.src
        ch = self._peek()
        if ch == "$":
            ref = self._parse_reference_expr()
            if ref is None:
                raise VtlError(f"invalid reference at offset {self.pos}")
            return ref
        if ch == "'":
            end = src.find("'", self.pos + 1)
            if end < 0:
                raise VtlError("unterminated string literal")
            value = src[self.pos + 1 : end]
            self.pos = end + 1
            return _Literal(value)
        if ch == '"':
            end = src.find('"', self.pos + 1)
            if end < 0:
                raise VtlError("unterminated string literal")
            raw = src[self.pos + 1 : end]
            self.pos = end + 1
            if "$" not in raw and "#" not in raw:
                return _Literal(raw)
            return _Interpolated(_Parser(raw).parse())
        if ch == "(":
            self.pos += 1
            value = self._parse_expression()
            self._expect(")")
            return value
        if ch == "[":
            self.pos += 1
            self._skip_ws()
            if self._peek() == "]":
                self.pos += 1
                return _ListExpr(())
            first = self._parse_expression()
            self._skip_ws()
            if src.startswith("..", self.pos):
                self.pos += 2
                end_expr = self._parse_expression()
                self._expect("]")
                return _RangeExpr(first, end_expr)
            items = [first]
            while True:
                self._skip_ws()
                if self._peek() == ",":
                    self.pos += 1
                    items.append(self._parse_expression())
                    continue
                self._expect("]")
                return _ListExpr(tuple(items))
        if ch == "{":
            self.pos += 1
            pairs: list[tuple[Any, Any]] = []
            self._skip_ws()
            if self._peek() == "}":
                self.pos += 1
                return _MapExpr(())
            while True:
                key = self._parse_expression()
                self._expect(":")
                pairs.append((key, self._parse_expression()))
                self._skip_ws()
                if self._peek() == ",":
                    self.pos += 1
                    continue
                self._expect("}")
                return _MapExpr(tuple(pairs))
        number = _NUMBER.match(src, self.pos)
        if number:
            self.pos = number.end()
            text = number.group(0)
            return _Literal(float(text) if number.group(1) else int(text))
        word = _IDENT.match(src, self.pos)
        if word and word.group(0) in ("true", "false", "null"):
            self.pos = word.end()
            return _Literal({"true": True, "false": False, "null": None}[word.group(0)])
        raise VtlError(f"unexpected {src[self.pos : self.pos + 20]!r} in template expression")


@lru_cache(maxsize=512)
def _parse(source: str) -> tuple[Any, ...]:
    return _Parser(source).parse()


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
