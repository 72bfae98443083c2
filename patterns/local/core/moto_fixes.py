"""Fixes of moto 5.2.5's memory behaviour, which a long-running local cloud server cannot live with.

moto keeps every model instance it ever created: ``BaseModel.__new__`` appends each one to its
class's ``instances_tracked`` list (only read by the ``/moto-api/data.json`` dashboard and S3's
reset). DynamoDB's ``transact_write_items`` deep-copies every table it touches before writing (to
swap the copy back on failure) and ``scan`` deep-copies its results, so every copy stays alive: a
thousand transactions leave a thousand tables and all their items behind, memory grows by hundreds
of MB per thousand requests and each transaction gets slower as the table grows.

``install(patcher)`` makes the tracking weak (an instance lives only as long as moto uses it) and
replaces the table copy by an undo record of the items the transaction names, which is what a
rollback needs. ``Patcher.restore()`` puts moto's behaviour back.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import cognito_tokens

if TYPE_CHECKING:
    from .hooks import Patcher


class WeakInstances:
    """A list-like record of live instances (``append``, iteration, ``len``) holding no reference.

    Identity-keyed, since some moto models define ``__eq__`` without ``__hash__``; an instance
    that cannot be weakly referenced is not tracked (nothing but the dashboard reads the record).
    """

    def __init__(self, items: Any = ()) -> None:
        self._refs: dict[int, weakref.ref[Any]] = {}
        for item in items:
            self.append(item)

    def append(self, instance: Any) -> None:
        key = id(instance)
        refs = self._refs

        def forget(_: weakref.ref[Any], key: int = key) -> None:
            refs.pop(key, None)

        try:
            refs[key] = weakref.ref(instance, forget)
        except TypeError:
            return

    def __iter__(self) -> Iterator[Any]:
        alive = [ref() for ref in list(self._refs.values())]
        return iter([instance for instance in alive if instance is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _tracked(cls: type) -> WeakInstances:
    record = cls.__dict__.get("instances_tracked")
    if not isinstance(record, WeakInstances):
        # A class created (imported) after install, or emptied by moto's reset_model_data().
        record = WeakInstances(record or ())
        cls.instances_tracked = record  # type: ignore[attr-defined]
    return record


def _weak_tracking(patcher: Patcher) -> None:
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import model_data

    def tracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance = object.__new__(cls)
        _tracked(cls).append(instance)
        return instance

    patcher.set(BaseModel, "__new__", staticmethod(tracked_new))
    for models in model_data.values():
        for model in models.values():
            # Set through the patcher, so uninstall gives moto back plain lists.
            patcher.set(model, "instances_tracked", WeakInstances(model.__dict__.get("instances_tracked") or ()))


class _TableCopyIsTheTable:
    """The ``copy`` module as moto.dynamodb.models sees it: a Table is not copied (its rollback is
    done item by item by the transaction wrapper below); everything else is copied as before."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _item_key(table: Any, op: dict[str, Any], op_type: str) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _undo_records(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, copy of the item or None) for every item the transaction names."""
    records = []
    for entry in transact_items:
        try:
            op_type, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            hash_key, range_key = _item_key(table, op, op_type)
            old = table.items.get(hash_key)
            if range_key is not None:
                old = old.get(range_key) if isinstance(old, dict) else None
        except Exception:  # moto itself rejects a malformed entry, before it writes anything for it
            continue
        records.append((table, hash_key, range_key, copy.deepcopy(old)))
    return records


def _roll_back(records: list[tuple[Any, Any, Any, Any]], streams: dict[int, tuple[Any, int]]) -> None:
    for table, hash_key, range_key, old in reversed(records):
        if range_key is None:
            if old is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = old
        elif old is None:
            table.items.get(hash_key, {}).pop(range_key, None)
            if hash_key in table.items and not table.items[hash_key]:
                del table.items[hash_key]
        else:
            table.items[hash_key][range_key] = old
    for shard, length in streams.values():
        # A cancelled transaction writes no stream records.
        del shard.items[length:]


def _transactions_without_table_copies(patcher: Patcher) -> None:
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    patcher.set(dynamodb_models, "copy", _TableCopyIsTheTable(Table))
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        records = _undo_records(backend, transact_items)
        streams = {
            id(table.stream_shard): (table.stream_shard, len(table.stream_shard.items))
            for table, *_ in records
            if table.stream_shard is not None
        }
        try:
            transact(backend, transact_items)
        except Exception:
            _roll_back(records, streams)
            raise

    patcher.set(DynamoDBBackend, "transact_write_items", transact_write_items)


def expire_log_events(group: Any, now: float) -> int:
    """Drop the events of a CloudWatch log group older than its retention at ``now`` (epoch s);
    returns how many. moto stores ``RetentionInDays`` and never applies it."""
    days = getattr(group, "retention_in_days", None)
    if not days:
        return 0
    oldest = int((now - int(days) * 86400) * 1000)
    dropped = 0
    for stream in list(group.streams.values()):
        kept = [event for event in stream.events if event.timestamp >= oldest]
        dropped += len(stream.events) - len(kept)
        stream.events[:] = kept
    return dropped


def _log_retention(patcher: Patcher, clock: Callable[[], float]) -> None:
    from moto.logs.models import LogGroup

    for name in ("get_log_events", "filter_log_events"):
        original = getattr(LogGroup, name)

        def expiring(group: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            expire_log_events(group, clock())
            return __original(group, *args, **kwargs)

        patcher.set(LogGroup, name, expiring)


def install(patcher: Patcher, clock: Callable[[], float] | None = None) -> None:
    """Apply the fixes through ``patcher`` (undone by ``patcher.restore()``); with ``clock`` (the
    local cloud's, epoch seconds) log groups' retention is applied when their events are read and
    Cognito tokens are issued on it."""
    _weak_tracking(patcher)
    _transactions_without_table_copies(patcher)
    if clock is not None:
        _log_retention(patcher, clock)
        cognito_tokens.install(patcher, clock)
