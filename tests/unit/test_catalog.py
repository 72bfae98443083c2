"""The catalog is machine-readable, complete and the README is generated from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import patterns
from demo import module_for
from patterns import catalog, core

ROOT = Path(__file__).resolve().parents[2]


def test_cli_lists_every_implemented_pattern_as_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "patterns", "catalog", "--json"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    listed = json.loads(result.stdout)
    assert [p["name"] for p in listed] == [e.name for e in catalog.entries()]
    assert {"number", "name", "construct", "module", "demo_stack", "handlers"} <= set(listed[0])


def test_every_entry_points_at_real_code() -> None:
    for entry in catalog.entries():
        construct = getattr(patterns, entry.construct)
        assert construct.__module__ == entry.module
        for folder in entry.handlers:
            assert any(core.handler_dir(folder).glob("*.py")), folder
        demo = module_for(entry)
        assert callable(demo.build) and callable(demo.drive), entry.name
    numbers = [e.number for e in catalog.entries()]
    assert len(set(numbers)) == len(numbers)


def test_readme_table_is_generated_from_the_catalog() -> None:
    """The table; the diagrams need the demo stacks synthesized (tests/snapshots/test_readme_diagrams.py)."""
    readme = (ROOT / "README.md").read_text()
    assert catalog.render_readme(readme) == readme, (
        "README.md is stale: run `.venv/bin/python -m patterns catalog --update-readme README.md`"
    )
