"""What one source-table change does to the views: plain functions, no AWS calls.

A source item contributes ``(group, value)`` to the view of its group: one to ``item_count`` and its
value to ``total``. A stream record moves the old image's contribution out and the new image's in;
both in one group make one delta. An old image that is not valid contributed nothing (its insert was
a poison record and never applied), so undoing it changes nothing; a new image that is not valid is
a poison record (``InvalidItem``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: Longest group value (a DynamoDB partition key holds up to 2048 bytes; keep room for the UTF-8 form).
MAX_GROUP_LENGTH = 512


class InvalidItem(ValueError):
    """A new image without a usable group or value: the record cannot be projected."""


@dataclass(frozen=True)
class Contribution:
    group: str
    value: Decimal


@dataclass(frozen=True)
class Delta:
    """What a record changes in one view."""

    count: int
    total: Decimal


def contribution(image: dict[str, Any] | None, group_field: str, value_field: str) -> Contribution:
    """The image's contribution; InvalidItem when it has none a view can count."""
    if not image:
        raise InvalidItem("no image")
    group, value = image.get(group_field), image.get(value_field)
    if not isinstance(group, str) or not group or len(group) > MAX_GROUP_LENGTH:
        raise InvalidItem(f"{group_field!r} must be a non-empty string of at most {MAX_GROUP_LENGTH} characters")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidItem(f"{value_field!r} must be a number (given {type(value).__name__})")
    return Contribution(group, Decimal(value))


def deltas(
    old_image: dict[str, Any] | None, new_image: dict[str, Any] | None, group_field: str, value_field: str
) -> dict[str, Delta]:
    """Per group, what the change from ``old_image`` to ``new_image`` adds (no entry: nothing changes)."""
    moved: dict[str, Delta] = {}
    if old_image:
        try:
            old = contribution(old_image, group_field, value_field)
            moved[old.group] = Delta(-1, -old.value)
        except InvalidItem:
            pass  # it was never counted
    if new_image:
        new = contribution(new_image, group_field, value_field)  # InvalidItem: a poison record
        before = moved.get(new.group, Delta(0, Decimal(0)))
        moved[new.group] = Delta(before.count + 1, before.total + new.value)
    return {group: d for group, d in moved.items() if d.count or d.total}


def rank(
    candidates: dict[str, dict[str, Any]], fresh: dict[str, dict[str, Any] | None], rank_by: str, top_n: int
) -> list[dict[str, Any]]:
    """The top ``top_n`` views: ``candidates`` (from the ranking index) overlaid by ``fresh`` (consistent
    reads of the views this batch changed; None for a view that no longer exists); ties by key."""
    merged = {key: view for key, view in candidates.items() if key not in fresh}
    merged.update({key: view for key, view in fresh.items() if view is not None})
    ordered = sorted(merged.values(), key=lambda v: (-Decimal(v.get(rank_by, 0)), str(v["view_key"])))
    return ordered[:top_n]
