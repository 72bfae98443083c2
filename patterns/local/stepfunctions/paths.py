"""JSONPath input and output processing of Amazon States Language (the "JSONPath" query language).

Step Functions distinguishes *reference paths* (``InputPath``, ``ResultPath``, ``OutputPath``,
``ItemsPath``, Choice ``Variable``: one node, dots and brackets only, and ``ResultPath`` may create
it) from full JSONPath in payload templates (``"key.$": "$.items[?(@.ok)]"``). A path that names
nothing fails the state with ``States.Runtime``, as AWS does; a template value starting with
``States.`` is an intrinsic function (see intrinsics.py).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .errors import StatesError

_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def _segments(path: str) -> list[str | int]:
    """The steps of a reference path (``$.a['b'][0]``); raises for anything a reference path cannot be."""
    if not path.startswith("$"):
        raise StatesError("States.Runtime", f"Invalid path '{path}': it must start with '$'")
    rest = path[1:]
    steps: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if match is None:
            raise StatesError("States.Runtime", f"Invalid reference path '{path}'")
        name, index, quoted, double_quoted = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(part for part in (name, quoted, double_quoted) if part is not None))
        position = match.end()
    return steps


def is_reference_path(path: str) -> bool:
    try:
        _segments(path)
    except StatesError:
        return False
    return True


def read(document: Any, path: str, context: Any = None) -> Any:
    """The value ``path`` selects (``$$.`` reads the context object); States.Runtime if it is missing."""
    if path.startswith("$$"):
        return read(context, path[1:])
    if is_reference_path(path):
        node = document
        for step in _segments(path):
            if _has(node, step):
                node = node[step]  # type: ignore[index]
            else:
                raise StatesError(
                    "States.Runtime",
                    f"The JSONPath '{path}' could not be found in the input '{_short(document)}'",
                )
        return node
    return _query(document, path)


def _query(document: Any, path: str) -> Any:
    """Full JSONPath (filters, wildcards, slices): a list of matches, as Step Functions returns it."""
    from jsonpath_ng.exceptions import JsonPathParserError
    from jsonpath_ng.ext import parse

    try:
        expression = parse(path)
    except (JsonPathParserError, Exception) as exc:  # jsonpath-ng raises several types for bad syntax
        raise StatesError("States.Runtime", f"Invalid JSONPath '{path}': {exc}") from exc
    return [match.value for match in expression.find(document)]


def write(document: Any, path: str | None, value: Any) -> Any:
    """``ResultPath``: put ``value`` at ``path`` in a copy of ``document`` (``None`` discards the value)."""
    if path is None:
        return document
    steps = _segments(path)
    if not steps:
        return value
    root = copy.deepcopy(document)
    if not isinstance(root, dict):
        raise StatesError(
            "States.Runtime", f"Unable to apply ResultPath '{path}' to input '{_short(document)}': not an object"
        )
    node = root
    for step in steps[:-1]:
        if isinstance(node, dict):
            nxt = node.get(step) if isinstance(step, str) else None
            if not isinstance(nxt, (dict, list)):
                nxt = {}
                node[step] = nxt  # type: ignore[index]
            node = nxt
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            raise StatesError("States.Runtime", f"Unable to apply ResultPath '{path}'")
    last = steps[-1]
    if (isinstance(node, dict) and isinstance(last, str)) or _has(node, last):
        node[last] = value  # type: ignore[index]
    else:
        raise StatesError("States.Runtime", f"Unable to apply ResultPath '{path}'")
    return root


def select(document: Any, path: str | None, context: Any = None) -> Any:
    """``InputPath`` / ``OutputPath``: ``null`` (JSON null) gives ``{}``; absent means ``$``."""
    if path is None:
        return {}
    return read(document, path, context)


def _has(node: Any, step: str | int) -> bool:
    if isinstance(step, int):
        return isinstance(node, list) and -len(node) <= step < len(node)
    return isinstance(node, dict) and step in node


def _short(document: Any) -> str:
    import json

    text = json.dumps(document, default=str)
    return text if len(text) <= 200 else text[:200] + "..."
