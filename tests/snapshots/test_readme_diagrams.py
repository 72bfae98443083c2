"""The README's per-pattern diagrams are drawn from the demo stacks' synthesized templates.

A construct change that moves data differently changes its diagram; this test fails until the README
is regenerated, as the catalog table test does for the table. It reuses the session's synthesized
demo app, so it costs no synth of its own.
"""

from __future__ import annotations

from pathlib import Path

from patterns import catalog

ROOT = Path(__file__).resolve().parents[2]


def test_readme_diagrams_are_generated_from_the_demo_stacks(demo_app) -> None:
    diagrams = catalog.demo_diagrams(demo_app.outdir)
    assert set(diagrams) == {stack for e in catalog.entries() for stack in e.stacks}
    assert all(d.startswith("flowchart LR\n") and "-->" in d for d in diagrams.values())
    readme = (ROOT / "README.md").read_text()
    assert catalog.render_readme(readme, diagrams) == readme, (
        "README.md diagrams are stale: run `.venv/bin/python -m patterns catalog --update-readme README.md`"
    )
