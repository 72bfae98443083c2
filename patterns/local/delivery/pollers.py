"""Event source mappings polled with AWS semantics (SQS, Kinesis, DynamoDB streams).

moto delivers these inline, inside ``send_message`` / ``put_record`` / ``put_item``, one message
at a time, and never retries or dead-letters. The local cloud removes that path (see hooks.py) and
polls instead: SQS batches with the mapping's batch size and concurrency, partial batch responses,
the queue's visibility timeout and redrive policy; stream shards in order, one batch at a time,
with retries, bisecting, record age, on-failure destinations, partial checkpoints and tumbling
windows.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..runtime import FunctionSpec, FunctionThrottled, InvokeOutcome
from .clock import iso_now

if TYPE_CHECKING:
    from .engine import Engine


def _filters(esm: Any) -> list[Any]:
    """The mapping's FilterCriteria as moto event patterns (same syntax as EventBridge)."""
    from moto.events.models import EventPattern

    criteria = esm.filter_criteria or {}
    patterns = []
    for item in criteria.get("Filters", []) or []:
        raw = item.get("Pattern")
        if raw:
            patterns.append(EventPattern.load(raw if isinstance(raw, str) else json.dumps(raw)))
    return patterns


def filter_view(record: dict[str, Any], body_key: str | None) -> dict[str, Any]:
    """The record as AWS matches filter criteria against it.

    SQS: the record with ``body`` parsed when it is JSON (a plain body stays a string).
    Kinesis: the record's metadata and ``data`` at the top level (``{"data": {...}}``, as the
    Lambda and Pipes docs write filters), with ``data`` base64-decoded and parsed as JSON.
    DynamoDB streams: the record as it is (``{"dynamodb": {"NewImage": ...}}``).
    """
    probe = json.loads(json.dumps(record))
    if body_key == "data" and isinstance(probe.get("kinesis"), dict):
        probe.update(probe.pop("kinesis"))  # Lambda nests the Kinesis fields; Pipes does not
    if body_key is not None and isinstance(probe.get(body_key), str):
        raw = probe[body_key]
        if body_key == "data":
            with contextlib.suppress(ValueError):
                raw = base64.b64decode(raw).decode()
        with contextlib.suppress(ValueError):
            probe[body_key] = json.loads(raw)
    return probe


def _matches(patterns: list[Any], record: dict[str, Any], body_key: str | None) -> bool:
    if not patterns:
        return True
    probe = filter_view(record, body_key)
    return any(p.matches_event(probe) for p in patterns)


def _item_failures(outcome: InvokeOutcome, valid_ids: Iterable[str]) -> list[str] | None:
    """Identifiers a partial batch response names; None means the whole batch failed (AWS rules)."""
    result = outcome.result
    if not isinstance(result, dict):
        return []
    failures = result.get("batchItemFailures")
    if not failures:
        return []
    valid = set(valid_ids)
    ids: list[str] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or str(identifier) not in valid:
            return None
        ids.append(str(identifier))
    return ids


class SqsPoller:
    """Polls one SQS event source mapping."""

    def __init__(self, engine: Engine, esm: Any) -> None:
        self.engine = engine
        self.core = engine.core
        self.uuid: str = esm.uuid
        arn = esm.event_source_arn
        self.queue_arn: str = arn
        self.account_id, self.region, self.queue_name = arn.split(":")[4], arn.split(":")[3], arn.split(":")[5]
        self.inflight = 0
        self.held: set[str] = set()
        self._lock = threading.Lock()
        self._window_since: float | None = None

    def _state(self) -> tuple[Any, Any, FunctionSpec | None]:
        with self.core.lock:
            esm = self.core.lambda_backend(self.account_id, self.region).get_event_source_mapping(self.uuid)
            queue = self.core.sqs_backend(self.account_id, self.region).queues.get(self.queue_name)
        spec = self.core.function_spec(esm.function_arn) if esm is not None else None
        return esm, queue, spec

    def limit(self, esm: Any, spec: FunctionSpec) -> int:
        scaling = esm.scaling_config or {}
        limit = int(scaling.get("MaximumConcurrency") or self.engine.settings.default_sqs_concurrency)
        if spec.reserved_concurrency is not None:
            limit = min(limit, spec.reserved_concurrency)
        return limit

    def poll(self) -> bool:
        esm, queue, spec = self._state()
        if esm is None or queue is None or spec is None or not esm.enabled:
            return False
        limit = self.limit(esm, spec)
        patterns = _filters(esm)
        dispatched = False
        sqs = self.core.sqs_backend(self.account_id, self.region)
        while True:
            with self._lock:
                if self.inflight >= limit:
                    break
            with self.core.lock:
                visible = len(queue.messages)
                if visible == 0:
                    self._window_since = None
                    break
                window = float(esm.max_batch_window or 0)
                if window and visible < esm.batch_size and not self.engine.fast:
                    now = time.monotonic()
                    self._window_since = self._window_since or now
                    if now - self._window_since < self.engine.delay(window):
                        break
                self._window_since = None
                timeout = int(queue.visibility_timeout or 30) or 30
                messages = sqs.receive_message(self.queue_name, esm.batch_size, 0, timeout, ["All"])
                if not messages:
                    break
                # A redelivery whose visibility timeout drain() skipped happens that much later on the
                # virtual clock, and the handler's time.time() must show it.
                self.engine.advance_to(max(getattr(m, "local_cloud_due", 0.0) for m in messages))
                records = [self._record(m, queue) for m in messages]
                kept = [r for r in records if _matches(patterns, r, "body")]
                for dropped in (r for r in records if r not in kept):
                    sqs.delete_message(self.queue_name, dropped["receiptHandle"])
                if kept:
                    # Registered before the backend lock is released: fast_forward() (which holds it)
                    # never sees an in-flight message that is not yet known to be in flight.
                    with self._lock:
                        self.inflight += 1
                        self.held.update(r["receiptHandle"] for r in kept)
            if not kept:
                continue
            report_failures = "ReportBatchItemFailures" in (esm.function_response_types or [])
            self.engine.submit(
                lambda s=spec, r=kept, p=report_failures: self._run(s, r, p),
                f"{spec.name} on a batch of {len(kept)} from SQS {self.queue_name}",
            )
            dispatched = True
        return dispatched

    def _record(self, message: Any, queue: Any) -> dict[str, Any]:
        attributes = {
            "ApproximateReceiveCount": str(message.approximate_receive_count),
            "SentTimestamp": str(message.sent_timestamp),
            "SenderId": str(message.sender_id),
            "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        }
        if queue.fifo_queue:
            attributes.update(
                {
                    "SequenceNumber": str(message.sequence_number or ""),
                    "MessageGroupId": str(message.group_id or ""),
                    "MessageDeduplicationId": str(message.deduplication_id or ""),
                }
            )
        message_attributes: dict[str, Any] = {}
        for name, value in (message.message_attributes or {}).items():
            entry: dict[str, Any] = {
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            if "StringValue" in value:
                entry["stringValue"] = value["StringValue"]
            if "BinaryValue" in value:
                binary = value["BinaryValue"]
                entry["binaryValue"] = base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary
            message_attributes[name] = entry
        record = {
            "messageId": message.id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.body_md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }
        if message_attributes:
            record["md5OfMessageAttributes"] = message.attribute_md5
        return record

    def _run(self, spec: FunctionSpec, records: list[dict[str, Any]], report_failures: bool) -> None:
        ids = [r["messageId"] for r in records]
        failed: set[str] = set(ids)
        try:
            outcome = self.core.runtime.invoke(spec, {"Records": records}, source=f"sqs:{self.queue_name}")
            if outcome.error is None:
                partial = _item_failures(outcome, ids) if report_failures else []
                failed = set(ids) if partial is None else set(partial)
        except FunctionThrottled:
            pass
        finally:
            self._settle(records, failed)

    def _settle(self, records: list[dict[str, Any]], failed: set[str]) -> None:
        sqs = self.core.sqs_backend(self.account_id, self.region)
        with self.core.lock:
            queue = sqs.queues.get(self.queue_name)
            for record in records:
                if queue is None:
                    break
                handle = record["receiptHandle"]
                if record["messageId"] not in failed:
                    with contextlib.suppress(Exception):  # gone already (visibility expired, purged)
                        sqs.delete_message(self.queue_name, handle)
                    continue
                wait_s = self.engine.delay(float(queue.visibility_timeout or 0))
                for message in queue._messages:
                    if message.receipt_handle == handle:
                        message.visible_at = 0.0 if wait_s == 0 else time.time() * 1000 + wait_s * 1000
                        message.local_cloud_due = self.engine.clock() + float(queue.visibility_timeout or 0)
                        if wait_s == 0:
                            queue.pending_messages.discard(message)
                        break
        with self._lock:
            self.inflight -= 1
            self.held.difference_update(r["receiptHandle"] for r in records)

    def pending(self) -> list[str]:
        esm, queue, spec = self._state()
        if esm is None or queue is None or spec is None or not esm.enabled or self.limit(esm, spec) == 0:
            return []
        with self.core.lock:
            count = len(queue._messages)
        return [f"SQS {self.queue_name}: {count} message(s) for {spec.name}"] if count else []

    def active(self) -> bool:
        """Whether this poller takes messages from its queue now (enabled, concurrency above 0)."""
        esm, queue, spec = self._state()
        return not (esm is None or queue is None or spec is None or not esm.enabled or self.limit(esm, spec) == 0)

    def in_flight(self) -> set[str]:
        """Receipt handles of the messages this poller's batches hold."""
        with self._lock:
            return set(self.held)


def fast_forward_queue(core: Any, pollers: list[SqsPoller]) -> bool:
    """Make the messages of one queue visible now (skip visibility timeouts and delays), except
    those in flight in any poller of that queue: two mappings (or a mapping and a pipe) may read
    one queue, and neither may make the other's batches visible again."""
    if not any(p.active() for p in pollers):
        return False
    first = pollers[0]
    changed = False
    with core.lock:
        queue = core.sqs_backend(first.account_id, first.region).queues.get(first.queue_name)
        if queue is None:
            return False
        held = set().union(*(p.in_flight() for p in pollers))
        for message in queue._messages:
            if message.receipt_handle in held:
                continue
            if not message.visible or message.delayed:
                message.visible_at = 0.0
                message.delayed_until = 0.0
                queue.pending_messages.discard(message)
                changed = True
    return changed


@dataclass
class _Record:
    """A stream record: the moto object, and its Lambda event shape once it is needed."""

    seq: int
    arrival: float
    raw: Any
    shard_id: str
    shaped: dict[str, Any] | None = None


@dataclass
class _Batch:
    records: list[_Record]
    attempts: int = 0


@dataclass
class _Shard:
    shard_id: str
    position: int
    work: deque[_Batch] = field(default_factory=deque)
    read_end: int = 0
    inflight: bool = False
    next_try: float = 0.0
    window_start: float | None = None
    window_state: Any = field(default_factory=dict)
    #: The window whose end a timer on the engine's clock waits for (so drain() can skip to it), and
    #: the window whose timer has fired (a server that is not draining waits at most time_cap).
    window_timer_for: float | None = None
    window_timer_fired: float | None = None
    #: The state outgrew 1 MB: the window ends early (a final invoke), then goes on with fresh state.
    window_full: bool = False


#: Largest tumbling-window state Lambda carries per shard; a bigger one ends the window early.
WINDOW_STATE_LIMIT = 1024 * 1024


class StreamPoller:
    """Polls one Kinesis or DynamoDB stream event source mapping, shard by shard, in order."""

    def __init__(self, engine: Engine, esm: Any) -> None:
        self.engine = engine
        self.core = engine.core
        self.uuid: str = esm.uuid
        self.stream_arn: str = esm.event_source_arn
        parts = self.stream_arn.split(":")
        self.kind = parts[2]
        self.region, self.account_id = parts[3], parts[4]
        self.shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()
        self._started: dict[str, int] = dict(getattr(esm, "local_cloud_start", {}) or {})
        self._start_kind = (esm.starting_position or "TRIM_HORIZON").upper()
        self._start_time = esm.starting_position_timestamp

    # -- reading the source (under the backend lock) ---------------------------------------------

    def _source_shards(self) -> dict[str, list[_Record]]:
        """All records of every shard, oldest first (moto keeps them all in memory)."""
        if self.kind == "kinesis":
            backend = self.core.kinesis_backend(self.account_id, self.region)
            stream = next((s for s in backend.streams.values() if s.arn == self.stream_arn), None)
            if stream is None:
                return {}
            return {
                shard.shard_id: [
                    _Record(seq, record.created_at, record, shard.shard_id) for seq, record in shard.records.items()
                ]
                for shard in stream.shards.values()
            }
        table = self.core.stream_table(self.account_id, self.region, self.stream_arn)
        if table is None or table.stream_shard is None:
            return {}
        shard_id = table.stream_shard.id
        records = []
        for item in table.stream_shard.items:
            dynamodb = item.record["dynamodb"]
            created = dynamodb.get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                arrival = (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()
            else:
                arrival = time.time()
            records.append(_Record(int(dynamodb["SequenceNumber"]), arrival, item.record, shard_id))
        return {shard_id: records}

    def payload(self, record: _Record) -> dict[str, Any]:
        """The record as Lambda receives it (built once, on first use)."""
        if record.shaped is None:
            if self.kind == "kinesis":
                record.shaped = self._kinesis_payload(record.shard_id, record.raw)
            else:
                record.shaped = self._dynamodb_payload(record.raw, record.arrival)
        return record.shaped

    def _kinesis_payload(self, shard_id: str, record: Any) -> dict[str, Any]:
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record.partition_key,
                "sequenceNumber": str(record.sequence_number),
                "data": record.data,
                "approximateArrivalTimestamp": round(record.created_at, 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record.sequence_number}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self._role,
            "awsRegion": self.region,
            "eventSourceARN": self.stream_arn,
        }

    def _dynamodb_payload(self, raw: dict[str, Any], arrival: float) -> dict[str, Any]:
        record = json.loads(json.dumps(raw, default=str))
        record["dynamodb"]["ApproximateCreationDateTime"] = arrival
        record["eventVersion"] = "1.1"
        record["awsRegion"] = self.region
        record["eventSourceARN"] = self.stream_arn
        return record

    # -- polling ---------------------------------------------------------------------------------

    _role = ""

    def _esm(self) -> Any:
        with self.core.lock:
            return self.core.lambda_backend(self.account_id, self.region).get_event_source_mapping(self.uuid)

    def _initial_position(self, shard_id: str, records: list[_Record]) -> int:
        if shard_id in self._started:
            return self._started[shard_id]
        if self._start_kind == "LATEST":
            return records[-1].seq if records else -1
        if self._start_kind == "AT_TIMESTAMP" and self._start_time:
            stamp = float(self._start_time.timestamp() if isinstance(self._start_time, datetime) else self._start_time)
            older = [r.seq for r in records if r.arrival < stamp]
            return older[-1] if older else -1
        return -1

    def poll(self) -> bool:
        esm = self._esm()
        if esm is None or not esm.enabled:
            return False
        spec = self.core.function_spec(esm.function_arn)
        if spec is None:
            return False
        self._role = spec.role
        with self.core.lock:
            source = self._source_shards()
        dispatched = False
        now = time.time()
        factor = self._factor(esm)
        for shard_id, records in source.items():
            for lane, lane_records in self._lanes(shard_id, records, factor).items():
                with self._lock:
                    shard = self.shards.get(lane)
                    if shard is None:
                        shard = _Shard(shard_id, self._initial_position(shard_id, records))
                        self.shards[lane] = shard
                    if shard.inflight or (shard.next_try > now and not self.engine.fast):
                        continue
                    if self._schedule(esm, spec, shard, lane_records):
                        dispatched = True
        return dispatched

    @staticmethod
    def _factor(esm: Any) -> int:
        return max(1, int(esm.parallelization_factor or 1))

    def _partition_key(self, record: _Record) -> str:
        if self.kind == "kinesis":
            return str(record.raw.partition_key)
        return json.dumps(record.raw["dynamodb"].get("Keys", {}), sort_keys=True, default=str)

    def _lanes(self, shard_id: str, records: list[_Record], factor: int) -> dict[str, list[_Record]]:
        """The shard's records per concurrent batcher (ParallelizationFactor, 1-10).

        AWS runs up to ``factor`` batches of one shard at once and keeps the records of one
        partition key in order by always giving them to the same batcher; each batcher checkpoints
        on its own. With a factor of 1 the shard is its one batcher.
        """
        if factor == 1:
            return {shard_id: records}
        lanes: dict[str, list[_Record]] = {f"{shard_id}#{n}": [] for n in range(factor)}
        for record in records:
            digest = hashlib.md5(self._partition_key(record).encode(), usedforsecurity=False).digest()
            lanes[f"{shard_id}#{int.from_bytes(digest[:4], 'big') % factor}"].append(record)
        return lanes

    def _window(self, esm: Any, arrival: float) -> float:
        size = float(esm.tumbling_window)
        return math.floor(arrival / size) * size

    def _schedule(self, esm: Any, spec: FunctionSpec, shard: _Shard, records: list[_Record]) -> bool:
        unread = [r for r in records if r.seq > shard.position]
        tumbling = bool(esm.tumbling_window)
        if not shard.work:
            if tumbling and shard.window_start is not None:
                # A window closes when the local cloud's clock passes its end (AWS closes it on time,
                # not when records stop), or early when its state outgrew WINDOW_STATE_LIMIT.
                end = shard.window_start + float(esm.tumbling_window)
                in_window = [r for r in unread if self._window(esm, r.arrival) == shard.window_start]
                later = len(unread) > len(in_window)
                due = self.engine.clock() >= end or shard.window_timer_fired == shard.window_start
                if shard.window_full or (not in_window and (later or due)):
                    self._start(spec, shard, esm, _Batch([]), final=True)
                    return True
                if not in_window:
                    self._await_window_end(shard, end)
                    return False
                unread = in_window
            if not unread:
                return False
            if tumbling:
                first_window = self._window(esm, unread[0].arrival)
                unread = [r for r in unread if self._window(esm, r.arrival) == first_window]
                shard.window_start = first_window
            patterns = _filters(esm)
            if patterns:
                # Records the mapping's filter rejects count as processed (AWS drops them).
                body_key = "data" if self.kind == "kinesis" else None
                kept = [r for r in unread if _matches(patterns, self.payload(r), body_key)]
                if not kept:
                    shard.position = max(shard.position, unread[-1].seq)
                    return False
                unread = kept
            batch = unread[: int(esm.batch_size)]
            window = float(esm.max_batch_window or 0)
            filling = window and len(batch) < int(esm.batch_size) and not self.engine.fast
            if filling and time.time() - batch[0].arrival < self.engine.delay(window):
                return False
            shard.work.append(_Batch(batch))
            shard.read_end = batch[-1].seq
        head = shard.work[0]
        max_age = int(esm.max_record_age) if esm.max_record_age not in (None, -1) else None
        if max_age is not None and head.records:
            cutoff = self.engine.clock() - max_age
            expired = [r for r in head.records if r.arrival < cutoff]
            if expired:
                self._send_failure(esm, spec, shard, _Batch(expired, head.attempts), "RecordAgeExceeded", None)
                head.records = [r for r in head.records if r.arrival >= cutoff]
                if not head.records:
                    self._done(shard)
                    return True
        self._start(spec, shard, esm, head, final=False)
        return True

    def _await_window_end(self, shard: _Shard, end: float) -> None:
        """Queue a timer at the window's end, once per window; the next poll after it closes the window.

        While draining (tests) the timer is due at the window's end on the engine's clock, which
        drain() moves there once nothing else can run. A server that is not draining shortens the
        wait to ``Settings.time_cap``, like every other wait that only makes a developer wait.
        """
        start = shard.window_start
        if shard.window_timer_for == start:
            return
        shard.window_timer_for = start

        def fired() -> None:
            shard.window_timer_fired = start  # one assignment: no lock (the poller may hold its own)

        self.engine.schedule(
            end - self.engine.clock(), fired, f"end of a tumbling window of {self.kind} shard {shard.shard_id}"
        )

    def _start(self, spec: FunctionSpec, shard: _Shard, esm: Any, batch: _Batch, *, final: bool) -> None:
        shard.inflight = True
        label = "final window invoke" if final else f"batch of {len(batch.records)}"
        self.engine.submit(
            lambda: self._run(spec, shard, esm, batch, final),
            f"{spec.name} on a {label} from {self.kind} shard {shard.shard_id}",
        )

    def _event(self, esm: Any, shard: _Shard, batch: _Batch, final: bool) -> dict[str, Any]:
        event: dict[str, Any] = {"Records": [self.payload(r) for r in batch.records]}
        if esm.tumbling_window and shard.window_start is not None:
            start = shard.window_start
            event.update(
                {
                    "window": {"start": iso_now(start), "end": iso_now(start + float(esm.tumbling_window))},
                    "state": shard.window_state,
                    "shardId": shard.shard_id,
                    "eventSourceARN": self.stream_arn,
                    "isFinalInvokeForWindow": final,
                    "isWindowTerminatedEarly": final and shard.window_full,
                }
            )
        return event

    def _run(self, spec: FunctionSpec, shard: _Shard, esm: Any, batch: _Batch, final: bool) -> None:
        try:
            self._process(spec, shard, esm, batch, final)
        finally:
            with self._lock:
                shard.inflight = False

    def _invoke(self, spec: Any, shard: _Shard, esm: Any, batch: _Batch, final: bool) -> InvokeOutcome:
        return self.core.runtime.invoke(
            spec, self._event(esm, shard, batch, final), source=f"{self.kind}:{self.stream_arn.split('/')[1]}"
        )

    def _process(self, spec: FunctionSpec, shard: _Shard, esm: Any, batch: _Batch, final: bool) -> None:
        try:
            outcome = self._invoke(spec, shard, esm, batch, final)
        except FunctionThrottled:
            shard.next_try = time.time() + self.engine.delay(1.0)
            return
        tumbling = bool(esm.tumbling_window)
        # With tumbling windows a response without "state" is a failed invocation (AWS rule).
        stateless = tumbling and not (isinstance(outcome.result, dict) and "state" in outcome.result)
        if final:
            # A failing final invoke holds the shard until it succeeds (it is never given up).
            if outcome.error is None and not stateless:
                if not shard.window_full:
                    shard.window_start = None
                shard.window_full = False
                shard.window_state = {}
            else:
                shard.next_try = time.time() + self.engine.delay(1.0)
            return
        failing: _Batch | None = None
        partial = False
        if outcome.error is not None or stateless:
            failing = batch
        elif "ReportBatchItemFailures" in (esm.function_response_types or []):
            ids = [self._identifier(r) for r in batch.records]
            failures = _item_failures(outcome, ids)
            if failures is None:
                failing = batch
            elif failures:
                # Checkpoint before the first failed record; the rest is retried as it is
                # (with bisect on, AWS splits the batch at that record, not further).
                first = min(ids.index(i) for i in failures)
                failing = _Batch(batch.records[first:], batch.attempts)
                partial = True
        if tumbling and (failing is None or partial):
            # The records before a reported failure are checkpointed: their share of the state stays.
            shard.window_state = outcome.result["state"]  # type: ignore[index]
            shard.window_full = len(json.dumps(shard.window_state, default=str)) > WINDOW_STATE_LIMIT
        if failing is None:
            shard.work.popleft()
            if not shard.work:
                self._done(shard)
            return
        shard.work.popleft()
        if esm.bisect_on_error and len(failing.records) > 1 and not partial:
            middle = len(failing.records) // 2
            shard.work.appendleft(_Batch(failing.records[middle:], failing.attempts))
            shard.work.appendleft(_Batch(failing.records[:middle], failing.attempts))
            return
        failing.attempts += 1
        if self._exhausted(esm, failing):
            self._send_failure(esm, spec, shard, failing, "RetryAttemptsExhausted", outcome)
            if not shard.work:
                self._done(shard)
            return
        shard.work.appendleft(failing)
        shard.next_try = time.time() + self.engine.delay(min(1.0 * failing.attempts, 5.0))

    @staticmethod
    def _exhausted(esm: Any, batch: _Batch) -> bool:
        limit = esm.max_retry_attempts
        return limit is not None and int(limit) >= 0 and batch.attempts > int(limit)

    @staticmethod
    def _identifier(record: _Record) -> str:
        return str(record.seq)

    @staticmethod
    def _done(shard: _Shard) -> None:
        shard.position = max(shard.position, shard.read_end)

    def _send_failure(
        self, esm: Any, spec: FunctionSpec, shard: _Shard, batch: _Batch, condition: str, outcome: InvokeOutcome | None
    ) -> None:
        destination = ((esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if not destination or not batch.records:
            return
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if outcome is not None and outcome.error is not None:
            response["functionError"] = "Unhandled"
        info_key = "KinesisBatchInfo" if self.kind == "kinesis" else "DDBStreamBatchInfo"
        record = {
            "requestContext": {
                "requestId": outcome.request_id if outcome else "",
                "functionArn": spec.arn,
                "condition": condition,
                "approximateInvokeCount": batch.attempts,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": iso_now(),
            info_key: {
                "shardId": shard.shard_id,
                "startSequenceNumber": self._identifier(batch.records[0]),
                "endSequenceNumber": self._identifier(batch.records[-1]),
                "approximateArrivalOfFirstRecord": iso_now(batch.records[0].arrival),
                "approximateArrivalOfLastRecord": iso_now(batch.records[-1].arrival),
                "batchSize": len(batch.records),
                "streamArn": self.stream_arn,
            },
        }
        self.core.deliver(destination, record)

    def pending(self) -> list[str]:
        esm = self._esm()
        if esm is None or not esm.enabled:
            return []
        with self.core.lock:
            source = self._source_shards()
        out = []
        factor = self._factor(esm)
        with self._lock:
            for shard_id, all_records in source.items():
                for lane, records in self._lanes(shard_id, all_records, factor).items():
                    shard = self.shards.get(lane)
                    position = shard.position if shard else self._initial_position(shard_id, all_records)
                    unread = sum(1 for r in records if r.seq > position)
                    if unread or (shard and (shard.work or shard.inflight or shard.window_start is not None)):
                        work = list(shard.work) if shard else []
                        retries = f", retrying attempt {work[0].attempts}" if work else ""
                        out.append(
                            f"{self.kind} {self.stream_arn} shard {lane}: {unread} unprocessed record(s){retries}"
                        )
        return out


class FirehoseSourcePoller:
    """Feeds a Firehose delivery stream from its Kinesis source stream (KinesisStreamAsSource)."""

    def __init__(self, engine: Engine, account_id: str, region: str, name: str, stream_arn: str) -> None:
        self.engine = engine
        self.core = engine.core
        self.account_id, self.region, self.name, self.stream_arn = account_id, region, name, stream_arn
        self.positions: dict[str, int] = {}

    def poll(self) -> bool:
        from moto.firehose.models import firehose_backends

        moved = False
        with self.core.lock:
            kinesis = self.core.kinesis_backend(self.account_id, self.region)
            stream = next((s for s in kinesis.streams.values() if s.arn == self.stream_arn), None)
            firehose = firehose_backends[self.account_id][self.region]
            if stream is None or self.name not in firehose.delivery_streams:
                return False
            for shard in stream.shards.values():
                position = self.positions.get(shard.shard_id, -1)
                fresh = [(seq, r) for seq, r in shard.records.items() if seq > position]
                if fresh:
                    firehose.put_record_batch(self.name, [{"Data": base64.b64decode(r.data)} for _, r in fresh])
                    self.positions[shard.shard_id] = fresh[-1][0]
                    moved = True
        return moved

    def pending(self) -> list[str]:
        return []

    def fast_forward(self) -> bool:
        return False


class PollerSet:
    """Keeps one poller per enabled event source mapping in every moto Lambda backend, and one per
    Firehose delivery stream that reads a Kinesis stream."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.core = engine.core
        # PipePoller is an SqsPoller, PipeStreamPoller a StreamPoller
        self._pollers: dict[str, SqsPoller | StreamPoller | FirehoseSourcePoller] = {}

    def _sync(self) -> list[SqsPoller | StreamPoller | FirehoseSourcePoller]:
        from moto.firehose.models import firehose_backends

        with self.core.lock:
            mappings = list(self.core.event_source_mappings())
            hoses = [
                (account, region, name, (hose.source or {}).get("KinesisStreamARN"))
                for account, regions in list(firehose_backends.items())
                for region, backend in list(regions.items())
                for name, hose in list(backend.delivery_streams.items())
            ]
        from moto.pipes.models import pipes_backends

        with self.core.lock:
            pipes = [
                (account, region, name, pipe)
                for account, regions in list(pipes_backends.items())
                for region, backend in list(regions.items())
                for name, pipe in list(backend.pipes.items())
            ]
        seen = set()
        for account, region, name, pipe in pipes:
            key = f"pipe:{account}:{region}:{name}"
            seen.add(key)
            if key not in self._pollers:
                if pipe.source.split(":")[2] == "sqs":
                    self._pollers[key] = PipePoller(self.engine, account, region, name, pipe.source)
                else:
                    self._pollers[key] = PipeStreamPoller(self.engine, account, region, name, pipe.source, pipe)
        for account, region, name, source in hoses:
            key = f"firehose:{account}:{region}:{name}"
            if source:
                seen.add(key)
                if key not in self._pollers:
                    self._pollers[key] = FirehoseSourcePoller(self.engine, account, region, name, source)
        for esm in mappings:
            seen.add(esm.uuid)
            if esm.uuid in self._pollers:
                continue
            service = esm.event_source_arn.split(":")[2]
            if service == "sqs":
                self._pollers[esm.uuid] = SqsPoller(self.engine, esm)
            elif service in ("kinesis", "dynamodb"):
                self._pollers[esm.uuid] = StreamPoller(self.engine, esm)
        for gone in set(self._pollers) - seen:
            del self._pollers[gone]
        return list(self._pollers.values())

    def poll(self) -> bool:
        dispatched = False
        for poller in self._sync():
            if poller.poll():
                dispatched = True
        return dispatched

    def pending(self) -> list[str]:
        return [line for poller in self._sync() for line in poller.pending()]

    def fast_forward(self) -> bool:
        queues: dict[tuple[str, str, str], list[SqsPoller]] = {}
        for poller in self._sync():
            if isinstance(poller, SqsPoller):
                queues.setdefault((poller.account_id, poller.region, poller.queue_name), []).append(poller)
        changed = False
        for group in queues.values():
            if fast_forward_queue(self.core, group):
                changed = True
        return changed


@dataclass
class _PipeSettings:
    """A pipe's SQS source settings, shaped like the event source mapping fields SqsPoller reads."""

    enabled: bool
    batch_size: int
    max_batch_window: int
    function_response_types: list[str]
    filter_criteria: dict[str, Any] | None
    scaling_config: dict[str, Any] | None


@dataclass(frozen=True)
class _PipeRunner:
    name: str
    reserved_concurrency: int | None = None


class PipePoller(SqsPoller):
    """An EventBridge Pipe with an SQS source: poll, filter, enrich, deliver to the target.

    A failure anywhere (enrichment or target) fails the batch: its messages return to the queue
    and reach the queue's dead-letter queue through its redrive policy, as on AWS.
    """

    def __init__(self, engine: Engine, account_id: str, region: str, name: str, source_arn: str) -> None:
        self.engine = engine
        self.core = engine.core
        self.uuid = f"pipe:{name}"
        self.queue_arn = source_arn
        self.account_id, self.region, self.queue_name = account_id, region, source_arn.split(":")[5]
        self.pipe_name = name
        self.inflight = 0
        self.held = set()
        self._lock = threading.Lock()
        self._window_since = None
        self._pipe: Any = None

    def _state(self) -> tuple[Any, Any, Any]:
        from moto.pipes.models import pipes_backends

        with self.core.lock:
            pipe = pipes_backends[self.account_id][self.region].pipes.get(self.pipe_name)
            queue = self.core.sqs_backend(self.account_id, self.region).queues.get(self.queue_name)
        if pipe is None:
            return None, None, None
        self._pipe = pipe
        source = pipe.source_parameters or {}
        params = source.get("SqsQueueParameters") or {}
        settings = _PipeSettings(
            enabled=pipe.desired_state != "STOPPED",
            batch_size=int(params.get("BatchSize", 10)),
            max_batch_window=int(params.get("MaximumBatchingWindowInSeconds", 0)),
            function_response_types=[],
            filter_criteria=source.get("FilterCriteria"),
            scaling_config=None,
        )
        return settings, queue, _PipeRunner(f"pipe {self.pipe_name}")

    def _run(self, spec: Any, records: list[dict[str, Any]], report_failures: bool) -> None:
        from . import pipes

        failed = {r["messageId"] for r in records}
        try:
            pipes.deliver(self.core, self._pipe, list(records), "sqs")
            failed = set()
        except Exception as exc:  # the batch fails and is retried through the queue, as on AWS
            self.core.delivery_errors.append(f"pipe {self.pipe_name}: {type(exc).__name__}: {exc}")
        finally:
            self._settle(records, failed)


@dataclass
class _PipeStreamSettings:
    """A stream pipe's source settings, shaped like the event source mapping fields StreamPoller reads."""

    enabled: bool
    batch_size: int
    max_batch_window: int
    filter_criteria: dict[str, Any] | None
    max_record_age: int | None
    max_retry_attempts: int | None
    bisect_on_error: bool
    destination_config: dict[str, Any] | None
    tumbling_window: None = None
    function_response_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class _PipeStreamRunner:
    name: str
    arn: str
    role: str


class PipeStreamPoller(StreamPoller):
    """An EventBridge Pipe with a Kinesis or DynamoDB stream source.

    Shards are read in order like a Lambda mapping's; a failed batch is retried (bisected when
    OnPartialBatchItemFailure is AUTOMATIC_BISECT) up to MaximumRetryAttempts, then goes to the
    pipe's dead-letter queue. Pipes hand the target Kinesis records flat (no ``kinesis`` wrapper).
    """

    def __init__(self, engine: Engine, account_id: str, region: str, name: str, source_arn: str, pipe: Any) -> None:
        self.engine = engine
        self.core = engine.core
        self.uuid = f"pipe:{name}"
        self.pipe_name = name
        self.stream_arn = source_arn
        self.kind = source_arn.split(":")[2]
        self.region, self.account_id = region, account_id
        self.shards = {}
        self._lock = threading.Lock()
        self._started = dict(getattr(pipe, "local_cloud_start", {}) or {})
        params = self._parameters(pipe)
        self._start_kind = str(params.get("StartingPosition") or "TRIM_HORIZON").upper()
        stamp = params.get("StartingPositionTimestamp")
        self._start_time = float(stamp) if stamp not in (None, "") else None
        self._pipe: Any = pipe

    def _parameters(self, pipe: Any) -> dict[str, Any]:
        source = pipe.source_parameters or {}
        key = "KinesisStreamParameters" if self.kind == "kinesis" else "DynamoDBStreamParameters"
        return dict(source.get(key) or {})

    def _esm(self) -> Any:
        from moto.pipes.models import pipes_backends

        with self.core.lock:
            pipe = pipes_backends[self.account_id][self.region].pipes.get(self.pipe_name)
        if pipe is None:
            return None
        self._pipe = pipe
        params = self._parameters(pipe)
        age, retries = params.get("MaximumRecordAgeInSeconds"), params.get("MaximumRetryAttempts")
        dead_letter = (params.get("DeadLetterConfig") or {}).get("Arn")
        return _PipeStreamSettings(
            enabled=pipe.desired_state != "STOPPED",
            batch_size=int(params.get("BatchSize", 1)),
            max_batch_window=int(params.get("MaximumBatchingWindowInSeconds", 0)),
            filter_criteria=(pipe.source_parameters or {}).get("FilterCriteria"),
            max_record_age=int(age) if age is not None else None,
            max_retry_attempts=int(retries) if retries is not None else None,
            bisect_on_error=params.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT",
            destination_config={"OnFailure": {"Destination": dead_letter}} if dead_letter else None,
        )

    def poll(self) -> bool:
        settings = self._esm()
        if settings is None or not settings.enabled:
            return False
        pipe = self._pipe
        runner = _PipeStreamRunner(f"pipe {self.pipe_name}", pipe.arn, pipe.role_arn)
        self._role = pipe.role_arn
        with self.core.lock:
            source = self._source_shards()
        dispatched = False
        now = time.time()
        for shard_id, records in source.items():
            with self._lock:
                shard = self.shards.get(shard_id)
                if shard is None:
                    shard = _Shard(shard_id, self._initial_position(shard_id, records))
                    self.shards[shard_id] = shard
                if shard.inflight or (shard.next_try > now and not self.engine.fast):
                    continue
                if self._schedule(settings, runner, shard, records):  # type: ignore[arg-type]
                    dispatched = True
        return dispatched

    def payload(self, record: _Record) -> dict[str, Any]:
        if record.shaped is None:
            shaped = super().payload(record)
            if self.kind == "kinesis":
                shaped = {**{k: v for k, v in shaped.items() if k != "kinesis"}, **shaped["kinesis"]}
            record.shaped = shaped
        return record.shaped

    def _invoke(self, spec: Any, shard: _Shard, esm: Any, batch: _Batch, final: bool) -> InvokeOutcome:
        from . import pipes

        request_id = str(uuid.uuid4())
        try:
            pipes.deliver(self.core, self._pipe, [self.payload(r) for r in batch.records], self.kind)
        except Exception as exc:  # the batch failed: retried, bisected or dead-lettered by _process
            self.core.delivery_errors.append(f"pipe {self.pipe_name}: {type(exc).__name__}: {exc}")
            return InvokeOutcome(request_id, error={"errorType": type(exc).__name__, "errorMessage": str(exc)})
        return InvokeOutcome(request_id)

    def pending(self) -> list[str]:
        prefix = f"pipe {self.pipe_name} on {self.kind} "
        return [line.replace(f"{self.kind} ", prefix, 1) for line in super().pending()]
