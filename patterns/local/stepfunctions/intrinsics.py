"""The intrinsic functions of Amazon States Language (``States.Format``, ``States.Array``, ...).

Arguments are string literals in single quotes (``\\'``, ``\\{``, ``\\}``, ``\\\\`` escapes), numbers,
``null``, paths (``$.x``, ``$$.Execution.Id``) and nested calls. A wrong argument is
``States.IntrinsicFailure``, as on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from .errors import StatesError
from .paths import read

_FAIL = "States.IntrinsicFailure"


class _Parser:
    def __init__(self, text: str, document: Any, context: Any) -> None:
        self.text = text
        self.position = 0
        self.document = document
        self.context = context

    def fail(self, message: str) -> StatesError:
        return StatesError(_FAIL, f"{message} in '{self.text}'")

    def skip_spaces(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def call(self) -> Any:
        self.skip_spaces()
        start = self.position
        while self.position < len(self.text) and (
            self.text[self.position].isalnum() or self.text[self.position] in "._"
        ):
            self.position += 1
        name = self.text[start : self.position]
        if name not in FUNCTIONS:
            raise self.fail(f"Unknown intrinsic function '{name}'")
        if self.position >= len(self.text) or self.text[self.position] != "(":
            raise self.fail("Expected '('")
        self.position += 1
        args: list[Any] = []
        self.skip_spaces()
        if self.position < len(self.text) and self.text[self.position] == ")":
            self.position += 1
        else:
            while True:
                args.append(self.argument())
                self.skip_spaces()
                if self.position >= len(self.text):
                    raise self.fail("Expected ')'")
                if self.text[self.position] == ",":
                    self.position += 1
                    continue
                if self.text[self.position] == ")":
                    self.position += 1
                    break
                raise self.fail("Expected ',' or ')'")
        return FUNCTIONS[name](*args) if name != "States.Format" else _format(*args)

    def argument(self) -> Any:
        self.skip_spaces()
        char = self.text[self.position : self.position + 1]
        if char == "'":
            return self.string()
        if char == "$":
            start = self.position
            depth = 0
            while self.position < len(self.text):
                c = self.text[self.position]
                if c in "[(":
                    depth += 1
                elif c in "])":
                    if depth == 0:
                        break
                    depth -= 1
                elif c == "," and depth == 0:
                    break
                self.position += 1
            return read(self.document, self.text[start : self.position].strip(), self.context)
        if self.text.startswith("States.", self.position):
            return self.call()
        start = self.position
        while self.position < len(self.text) and self.text[self.position] not in ",)":
            self.position += 1
        literal = self.text[start : self.position].strip()
        try:
            return json.loads(literal)
        except ValueError as exc:
            raise self.fail(f"Invalid argument '{literal}'") from exc

    def string(self) -> str:
        self.position += 1
        out: list[str] = []
        while self.position < len(self.text):
            c = self.text[self.position]
            if c == "\\" and self.position + 1 < len(self.text):
                out.append(self.text[self.position + 1])
                self.position += 2
                continue
            if c == "'":
                self.position += 1
                return "".join(out)
            out.append(c)
            self.position += 1
        raise self.fail("Unterminated string")


def evaluate(expression: str, document: Any, context: Any) -> Any:
    """The value of one intrinsic function call against the state's input and context object."""
    parser = _Parser(expression, document, context)
    value = parser.call()
    parser.skip_spaces()
    if parser.position != len(expression):
        raise parser.fail("Unexpected text after the call")
    return value


def _format(template: Any, *args: Any) -> str:
    if not isinstance(template, str):
        raise StatesError(_FAIL, "States.Format needs a string template")
    out: list[str] = []
    index = 0
    position = 0
    while position < len(template):
        if template.startswith("{}", position):
            if index >= len(args):
                raise StatesError(_FAIL, "States.Format has more placeholders than arguments")
            value = args[index]
            out.append(value if isinstance(value, str) else json.dumps(value))
            index += 1
            position += 2
        else:
            out.append(template[position])
            position += 1
    if index != len(args):
        raise StatesError(_FAIL, "States.Format has more arguments than placeholders")
    return "".join(out)


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise StatesError(_FAIL, message)


def _string_to_json(text: Any) -> Any:
    _need(isinstance(text, str), "States.StringToJson needs a string")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StatesError(_FAIL, f"States.StringToJson: {exc}") from exc


def _partition(items: Any, size: Any) -> list[Any]:
    _need(isinstance(items, list) and isinstance(size, int) and size > 0, "States.ArrayPartition(array, size > 0)")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _range(start: Any, end: Any, step: Any) -> list[int]:
    _need(all(isinstance(v, int) for v in (start, end, step)) and step != 0, "States.ArrayRange needs integers")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    _need(len(values) <= 1000, "States.ArrayRange produces at most 1000 items")
    return values


def _get_item(items: Any, index: Any) -> Any:
    _need(isinstance(items, list) and isinstance(index, int) and 0 <= index < len(items), "States.ArrayGetItem index")
    return items[index]


def _unique(items: Any) -> list[Any]:
    _need(isinstance(items, list), "States.ArrayUnique needs an array")
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _hash(data: Any, algorithm: Any) -> str:
    names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
    _need(algorithm in names, f"States.Hash algorithm must be one of {sorted(names)}")
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return hashlib.new(names[algorithm], text.encode()).hexdigest()


def _merge(left: Any, right: Any, deep: Any) -> dict[str, Any]:
    _need(isinstance(left, dict) and isinstance(right, dict), "States.JsonMerge needs two objects")
    _need(deep is False, "States.JsonMerge supports only a shallow merge (false)")
    return {**left, **right}


def _random(start: Any, end: Any, seed: Any = None) -> int:
    _need(isinstance(start, int) and isinstance(end, int) and start <= end, "States.MathRandom(start, end)")
    return (random.Random(seed) if seed is not None else random).randint(start, end)


def _add(left: Any, right: Any) -> int:
    _need(isinstance(left, int) and isinstance(right, int), "States.MathAdd needs integers")
    return left + right


def _split(text: Any, separators: Any) -> list[str]:
    _need(isinstance(text, str) and isinstance(separators, str), "States.StringSplit needs strings")
    parts = [text]
    for separator in separators:
        parts = [piece for part in parts for piece in part.split(separator)]
    return [part for part in parts if part]


def _b64decode(text: Any) -> str:
    _need(isinstance(text, str), "States.Base64Decode needs a string")
    try:
        return base64.b64decode(text, validate=True).decode()
    except ValueError as exc:
        raise StatesError(_FAIL, f"States.Base64Decode: {exc}") from exc


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": lambda value: json.dumps(value, separators=(",", ":")),
    "States.Array": lambda *values: list(values),
    "States.ArrayPartition": _partition,
    "States.ArrayContains": lambda items, value: isinstance(items, list) and value in items,
    "States.ArrayRange": _range,
    "States.ArrayGetItem": _get_item,
    "States.ArrayLength": lambda items: len(items) if isinstance(items, list) else _need(False, "not an array"),
    "States.ArrayUnique": _unique,
    "States.Base64Encode": lambda text: base64.b64encode(str(text).encode()).decode(),
    "States.Base64Decode": _b64decode,
    "States.Hash": _hash,
    "States.JsonMerge": _merge,
    "States.MathRandom": _random,
    "States.MathAdd": _add,
    "States.StringSplit": _split,
    "States.UUID": lambda: str(uuid.uuid4()),
}
