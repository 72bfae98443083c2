"""VTL syntax: the template parser and the tree it builds (evaluated by vtl.py).

Kept apart from the evaluator so each reads on its own: what a template may say here, what it means there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


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
