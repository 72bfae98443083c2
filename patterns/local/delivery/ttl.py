"""DynamoDB Time to Live, run on the local cloud's clock.

moto stores a table's TTL setting but never deletes anything. On AWS, the TTL process deletes an
item some time after the epoch-seconds number in its TTL attribute has passed, as a service
deletion: the stream record of that delete is a ``REMOVE`` whose ``userIdentity`` is
``{"type": "Service", "principalId": "dynamodb.amazonaws.com"}``, which is how stream consumers tell
an expiry from a user's delete. Items whose attribute is not a number, or a number more than five
years in the past, are never deleted (AWS documents both).

The sweep runs against ``Engine.clock()``: an expiry happens when that clock passes it, in real time
or when a test moves the clock on with ``LocalCloud.advance()``. drain() does not jump to TTL
expiries by itself, on purpose: every table with idempotency records has TTL enabled, and ending
every drain an hour later would expire those records (and replay duplicates) behind a test's back.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine

#: The identity the TTL service stamps on the stream records of its deletes.
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

#: Items whose TTL is further in the past than this are ignored by the TTL process (AWS: five years).
MAX_PAST_SECONDS = 5 * 365 * 24 * 3600


def _expiry(item: Any, attribute: str) -> float | None:
    """The item's TTL in epoch seconds, or None when the attribute is missing or not a number."""
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return None
    try:
        return float(Decimal(str(value.value)))
    except (InvalidOperation, ValueError):
        return None


class TtlSweeper:
    """Deletes expired items of every TTL-enabled table, at most once per second of the clock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.core = engine.core
        self._last_sweep: int | None = None
        #: Items deleted so far (diagnostics and tests).
        self.expired = 0

    def _tables(self) -> list[Any]:
        from moto.dynamodb.models import dynamodb_backends

        return [
            table
            for regions in list(dynamodb_backends.values())
            for backend in list(regions.values())
            for table in list(backend.tables.values())
            if (table.ttl or {}).get("TimeToLiveStatus") == "ENABLED" and (table.ttl or {}).get("AttributeName")
        ]

    def sweep(self, *, force: bool = False) -> bool:
        """Delete what has expired by now; True if anything was deleted."""
        now = self.engine.clock()
        second = int(now)
        if not force and self._last_sweep == second:
            return False
        self._last_sweep = second
        deleted = 0
        with self.core.lock:
            for table in self._tables():
                attribute = table.ttl["AttributeName"]
                for item in list(table.all_items()):
                    expiry = _expiry(item, attribute)
                    if expiry is None or expiry > now or now - expiry > MAX_PAST_SECONDS:
                        continue
                    before = len(table.stream_shard.items) if table.stream_shard is not None else 0
                    if table.delete_item(item.hash_key, item.range_key) is None:
                        continue
                    deleted += 1
                    shard = table.stream_shard
                    if shard is not None and len(shard.items) > before:
                        shard.items[-1].record["userIdentity"] = dict(TTL_IDENTITY)
        self.expired += deleted
        return deleted > 0
