"""The machine-readable catalog of implemented patterns.

Each pattern module declares ``CATALOG_ENTRY``; this module discovers them, so adding a pattern
never means editing a shared list. The README's pattern table is generated from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import asdict, dataclass
from functools import cache

_NOT_PATTERNS = {"core", "local", "catalog", "__main__", "_lambdas"}


@dataclass(frozen=True, kw_only=True)
class PatternInfo:
    """One catalog pattern as implemented here."""

    number: int  #: its number in CATALOG.md
    name: str  #: its name in CATALOG.md
    construct: str  #: the construct class, exported from ``patterns``
    module: str  #: the module defining it, e.g. ``patterns.pub_sub``
    demo_stack: str  #: the stack id of its demo in app.py
    handlers: tuple[str, ...]  #: handler folders under lambdas/
    family: str  #: catalog section
    summary: str  #: one line
    diagram: str  #: a small ASCII data-flow diagram for the README
    #: stacks of the demo besides ``demo_stack``, each deployable on its own (a multi-stack pattern)
    service_stacks: tuple[str, ...] = ()

    @property
    def stacks(self) -> tuple[str, ...]:
        """Every stack of the demo: ``demo_stack`` first, then the ``service_stacks``."""
        return (self.demo_stack, *self.service_stacks)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["handlers"] = list(self.handlers)
        data["service_stacks"] = list(self.service_stacks)
        return data


@cache
def entries() -> tuple[PatternInfo, ...]:
    """Every implemented pattern, ordered by catalog number."""
    import patterns

    found: list[PatternInfo] = []
    for module_info in pkgutil.iter_modules(patterns.__path__):
        if module_info.name in _NOT_PATTERNS or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"patterns.{module_info.name}")
        entry = getattr(module, "CATALOG_ENTRY", None)
        if isinstance(entry, PatternInfo):
            found.append(entry)
    return tuple(sorted(found, key=lambda e: e.number))


def by_stack(stack_id: str) -> PatternInfo:
    """The pattern whose demo stack has this id."""
    for entry in entries():
        if entry.demo_stack == stack_id:
            return entry
    raise KeyError(stack_id)


def readme_table() -> str:
    """The README's pattern table (Markdown)."""
    lines = [
        "| # | Pattern | Construct | Demo stack | Handlers |",
        "|---|---|---|---|---|",
    ]
    for e in entries():
        handlers = ", ".join(f"`lambdas/{h}`" for h in e.handlers)
        lines.append(
            f"| {e.number} | [{e.name}](#{e.name.lower()}) — {e.summary} | `{e.construct}` "
            f"(`{e.module}`) | `{e.demo_stack}` | {handlers} |"
        )
    return "\n".join(lines)


def _with_services(entry: PatternInfo) -> str:
    if not entry.service_stacks:
        return ""
    return " with service stacks " + ", ".join(f"`{s}`" for s in entry.service_stacks)


def readme_sections() -> str:
    """One README section per pattern with its diagram."""
    parts = []
    for e in entries():
        parts.append(
            f"### {e.name}\n\nCATALOG {e.number} · `from patterns import {e.construct}` · demo stack "
            f"`{e.demo_stack}`{_with_services(e)}\n\n{e.summary}\n\n```\n{e.diagram.strip(chr(10))}\n```\n"
        )
    return "\n".join(parts)


TABLE_MARKERS = ("<!-- catalog:table:start -->", "<!-- catalog:table:end -->")
SECTION_MARKERS = ("<!-- catalog:sections:start -->", "<!-- catalog:sections:end -->")


def _replace_between(text: str, markers: tuple[str, str], body: str) -> str:
    start, end = markers
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError(f"markers {start} ... {end} not found")
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def render_readme(text: str) -> str:
    """``text`` (a README) with its generated table and pattern sections brought up to date."""
    text = _replace_between(text, TABLE_MARKERS, readme_table())
    return _replace_between(text, SECTION_MARKERS, readme_sections())
