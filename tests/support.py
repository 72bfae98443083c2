"""Test helpers shared by the handler tests."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def load_handler(pattern: str, module: str, env: Mapping[str, str] | None = None) -> ModuleType:
    """Import ``lambdas/<pattern>/<module>.py`` fresh, as Lambda would, under ``env``.

    Handler folders reuse module names (``models``, ``app``); the modules a handler imports from its
    own folder are removed from ``sys.modules`` afterwards so another pattern's test gets its own.
    """
    folder = LAMBDAS / pattern
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        with environment(
            {
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "Tests",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                **(env or {}),
            }
        ):
            spec = importlib.util.spec_from_file_location(f"_handler_{pattern}_{module}", folder / f"{module}.py")
            assert spec and spec.loader
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(str(folder))
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(str(folder)):
                del sys.modules[name]
    return loaded
