"""What the aggregator reads from the stream and the state it carries between invocations of a window."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any


class BadRecord(ValueError):
    """A record that can never be counted (not UTF-8 JSON, not an object, no key, no numeric value)."""

    def __init__(self, sequence_number: str, reason: str) -> None:
        super().__init__(f"record {sequence_number}: {reason}")
        self.sequence_number = sequence_number


def reading(data: bytes, sequence_number: str, key_field: str, value_field: str) -> tuple[str, Decimal]:
    """The record's key and value; BadRecord for anything else."""
    try:
        body: Any = json.loads(data.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadRecord(sequence_number, f"not UTF-8 JSON ({error})") from None
    if not isinstance(body, dict):
        raise BadRecord(sequence_number, "a record must be a JSON object")
    key, value = body.get(key_field), body.get(value_field)
    if isinstance(key, bool) or not isinstance(key, str | int) or key == "":
        raise BadRecord(sequence_number, f"{key_field!r} must be a non-empty string or an integer")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord(sequence_number, f"{value_field!r} must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:  # inf / nan never parse as JSON numbers, but be explicit
        raise BadRecord(sequence_number, f"{value_field!r} is not a finite number") from None
    return str(key), amount


def fold(state: dict[str, Any], key: str, value: Decimal, sequence_number: str) -> dict[str, Any]:
    """The window state with one more reading: ``{"segment": <first sequence number>, "totals":
    {key: [count, "sum"]}}`` (sums as decimal strings, so they stay exact through JSON)."""
    totals = dict(state.get("totals") or {})
    count, total = totals.get(key, [0, "0"])
    totals[key] = [int(count) + 1, str(Decimal(total) + value)]
    return {"segment": state.get("segment") or sequence_number, "totals": totals}
