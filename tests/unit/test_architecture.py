"""The import contracts (pyproject [tool.importlinter], run by `make test` as lint-imports) cover everything.

A contract that lists modules by hand goes stale silently when a module is added; these tests make
the lists complete: every pattern module in the independence and forbidden contracts, every module and
package of the local cloud in exactly one layer.
"""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import patterns.local
from patterns import catalog

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["type"] + ":" + c["name"]: c for c in config["contracts"]}


def _one(kind: str, words: str) -> dict[str, Any]:
    found = [c for key, c in _contracts().items() if key.startswith(kind + ":") and words in key]
    assert len(found) == 1, (kind, words, list(_contracts()))
    return found[0]


def test_every_pattern_module_is_in_the_independence_contract() -> None:
    modules = {e.module for e in catalog.entries()}
    assert set(_one("independence", "Pattern modules")["modules"]) == modules


def test_the_local_cloud_may_import_no_pattern_module() -> None:
    forbidden = set(_one("forbidden", "local cloud")["forbidden_modules"])
    assert {e.module for e in catalog.entries()} | {"patterns.core"} <= forbidden


def test_every_module_of_the_local_cloud_sits_in_exactly_one_layer() -> None:
    layers = _one("layers", "local cloud in layers")["layers"]
    placed = [name.strip() for layer in layers for name in layer.split("|")]
    children = {m.name for m in pkgutil.iter_modules(patterns.local.__path__)}
    assert sorted(placed) == sorted(children)


def test_the_layers_contract_checks_the_local_cloud_and_handlers_are_kept_apart() -> None:
    assert _one("layers", "local cloud in layers")["containers"] == ["patterns.local"]
    handlers = _one("forbidden", "Handlers never import")
    assert handlers["source_modules"] == ["lambdas"] and handlers["forbidden_modules"] == ["patterns"]
