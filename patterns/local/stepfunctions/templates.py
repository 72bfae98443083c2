"""Payload templates (``Parameters``, ``ResultSelector``, ``ItemSelector``): paths and intrinsic functions.

Above both paths.py and intrinsics.py (an intrinsic's arguments are paths), so neither imports the other back.
"""

from __future__ import annotations

from typing import Any

from .errors import StatesError
from .intrinsics import evaluate
from .paths import read


def render(template: Any, document: Any, context: Any) -> Any:
    """A payload template (``Parameters``, ``ResultSelector``, ``ItemSelector``) applied to ``document``."""
    if isinstance(template, dict):
        rendered: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise StatesError("States.Runtime", f"The value of field '{key}' must be a path or function")
                if value.startswith("States."):
                    rendered[key[:-2]] = evaluate(value, document, context)
                else:
                    rendered[key[:-2]] = read(document, value, context)
            else:
                rendered[key] = render(value, document, context)
        return rendered
    if isinstance(template, list):
        return [render(item, document, context) for item in template]
    return template
