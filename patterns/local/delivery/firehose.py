"""Firehose delivery to S3 as Firehose documents it: buffering, prefixes, compression, transformation.

moto writes every PutRecord(Batch) call straight into one S3 object. Firehose instead buffers the
records of a delivery stream and writes one object when the buffer reaches its size hint
(``BufferingHints.SizeInMBs``, default 5) or its interval hint (``IntervalInSeconds``, default 300)
has passed since the buffer's first record — the interval on the local cloud's virtual clock, so
``drain()`` flushes a waiting buffer without a test waiting minutes. Records are concatenated as
they are (Firehose adds no delimiter).

Object keys are ``<evaluated prefix><stream name>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>``.
A prefix may use ``!{timestamp:<Java DateTimeFormatter>}`` (evaluated at the approximate arrival
time of the oldest record in the object, in ``CustomTimeZone``, default UTC) and
``!{firehose:random-string}``; an error output prefix may also use ``!{firehose:error-output-type}``.
A prefix without a timestamp expression gets ``yyyy/MM/dd/HH/`` appended, the default error output
prefix is ``<error-output-type>/yyyy/MM/dd/HH/``, and a prefix with expressions needs an error
output prefix (Firehose rejects the stream otherwise). ``CompressionFormat: GZIP`` gzips each object
and names it ``.gz`` (unless ``FileExtension`` says otherwise).

With a Lambda processor (``ProcessingConfiguration``) records are first buffered by the
processor's hints (``BufferSizeInMBs`` default 1, ``BufferIntervalInSeconds`` default 60), the
function gets ``{invocationId, deliveryStreamArn, region, records: [{recordId,
approximateArrivalTimestamp, data}]}`` and answers a result per record: ``Ok`` records (with their
new data) go on to the S3 buffer, ``Dropped`` ones are gone, ``ProcessingFailed`` ones are written
as JSON lines under the error output prefix with error type ``processing-failed``. A failed
invocation (function error, a record id missing from the answer) is retried ``NumberOfRetries``
times (default 3); after that every record of the batch is a processing failure.

What the local cloud cannot do (other destinations, dynamic partitioning, format conversion,
S3 backup, other compressions or processor types) fails at deploy in ``check_config``.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import re
import string
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .engine import Engine

MIB = 1024 * 1024
DEFAULT_SIZE_MB = 5
DEFAULT_INTERVAL_S = 300
DEFAULT_PROCESSOR_SIZE_MB = 1
DEFAULT_PROCESSOR_INTERVAL_S = 60
DEFAULT_PROCESSOR_RETRIES = 3
DEFAULT_ERROR_PREFIX = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_JAVA_FIELDS = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_JAVA_TOKEN = re.compile(r"'[^']*'|yyyy|yy|MM|dd|HH|mm|ss|[A-Za-z]")


def _truthy(value: Any) -> bool:
    return str(value).lower() == "true"


def java_time(pattern: str, at: datetime) -> str:
    """Format ``at`` with a Java DateTimeFormatter pattern (the fields Firehose prefixes use)."""
    out = []
    for token in _JAVA_TOKEN.finditer(pattern):
        text = token.group(0)
        if text.startswith("'"):
            out.append(text[1:-1] or "'")
        elif text in _JAVA_FIELDS:
            out.append(at.strftime(_JAVA_FIELDS[text]))
        else:
            supported = "yyyy, yy, MM, dd, HH, mm, ss"
            raise ValueError(f"timestamp pattern letter {text!r} is not supported locally (use {supported})")
    # Characters between tokens (slashes, dashes, '=') are literal.
    literal = _JAVA_TOKEN.split(pattern)
    merged = []
    for index, piece in enumerate(literal):
        merged.append(piece)
        if index < len(out):
            merged.append(out[index])
    return "".join(merged)


def render_prefix(prefix: str, *, at: float, zone: str, error_type: str | None = None) -> str:
    """Evaluate a Firehose S3 prefix for an object whose oldest record arrived at ``at``."""
    moment = datetime.fromtimestamp(at, ZoneInfo(zone))

    def evaluate(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return java_time(value, moment)
        if namespace == "firehose" and value == "random-string":
            return "".join(random.choices(string.ascii_lowercase + string.digits, k=11))
        if namespace == "firehose" and value == "error-output-type" and error_type is not None:
            return error_type
        raise ValueError(f"prefix expression {match.group(0)} is not supported here")

    return _EXPRESSION.sub(evaluate, prefix)


@dataclass(frozen=True)
class S3Destination:
    """The parts of an (Extended)S3 destination configuration delivery uses, defaults applied."""

    bucket: str
    prefix: str
    error_prefix: str
    size_bytes: int
    interval_s: float
    gzip: bool
    extension: str
    zone: str
    processor_arn: str | None
    processor_size_bytes: int
    processor_interval_s: float
    processor_retries: int


def check_config(config: dict[str, Any], *, extended: bool) -> S3Destination:
    """Validate an S3 destination the way Firehose does, and refuse what the local cloud cannot run.

    Raises ValueError naming the feature; the CloudFormation model turns it into a deploy error.
    """
    for feature, key in (
        ("dynamic partitioning", "DynamicPartitioningConfiguration"),
        ("record format conversion", "DataFormatConversionConfiguration"),
    ):
        if _truthy((config.get(key) or {}).get("Enabled", False)):
            raise ValueError(f"{feature} ({key}) is not supported by the local cloud")
    if str(config.get("S3BackupMode", "Disabled")) != "Disabled":
        raise ValueError("S3BackupMode other than Disabled is not supported by the local cloud")
    compression = str(config.get("CompressionFormat", "UNCOMPRESSED"))
    if compression not in ("UNCOMPRESSED", "GZIP"):
        raise ValueError(f"CompressionFormat {compression} is not supported by the local cloud (UNCOMPRESSED, GZIP)")
    prefix = str(config.get("Prefix") or "")
    error_prefix = config.get("ErrorOutputPrefix")
    expressions = _EXPRESSION.findall(prefix)
    for namespace, value in expressions:
        if namespace == "firehose" and value == "error-output-type":
            raise ValueError("Prefix cannot use !{firehose:error-output-type} (only ErrorOutputPrefix can)")
        if namespace.startswith("partitionKeyFrom"):
            raise ValueError(f"Prefix uses {namespace}, which needs dynamic partitioning (not supported locally)")
        if namespace not in ("timestamp", "firehose") or (namespace == "firehose" and value != "random-string"):
            raise ValueError(f"Prefix expression !{{{namespace}:{value}}} is not valid")
    if expressions and not error_prefix:
        raise ValueError("ErrorOutputPrefix is required when Prefix contains expressions")
    for namespace, value in _EXPRESSION.findall(str(error_prefix or "")):
        if namespace not in ("timestamp", "firehose") or (
            namespace == "firehose" and value not in ("random-string", "error-output-type")
        ):
            raise ValueError(f"ErrorOutputPrefix expression !{{{namespace}:{value}}} is not valid")
    if not any(namespace == "timestamp" for namespace, _ in expressions):
        prefix += "!{timestamp:yyyy/MM/dd/HH}/"
    error = str(error_prefix) if error_prefix else DEFAULT_ERROR_PREFIX
    if error_prefix and not any(n == "timestamp" for n, _ in _EXPRESSION.findall(error)):
        error += "!{timestamp:yyyy/MM/dd/HH}/"
    zone = str(config.get("CustomTimeZone") or "UTC")
    ZoneInfo(zone)  # an unknown zone fails here, at deploy
    for pattern in [v for n, v in _EXPRESSION.findall(prefix + error) if n == "timestamp"]:
        java_time(pattern, datetime.now(ZoneInfo(zone)))
    hints = config.get("BufferingHints") or {}
    processor_arn, processor_params = None, {}
    processing = config.get("ProcessingConfiguration") or {}
    if extended and _truthy(processing.get("Enabled", False)):
        processors = processing.get("Processors") or []
        for processor in processors:
            if processor.get("Type") != "Lambda":
                raise ValueError(f"processor type {processor.get('Type')} is not supported by the local cloud")
        if len(processors) > 1:
            raise ValueError("more than one Lambda processor is not supported by the local cloud")
        if processors:
            processor_params = {p["ParameterName"]: p["ParameterValue"] for p in processors[0].get("Parameters") or []}
            processor_arn = processor_params.get("LambdaArn")
            if not processor_arn:
                raise ValueError("a Lambda processor needs a LambdaArn parameter")
    bucket_arn = str(config.get("BucketARN", ""))
    return S3Destination(
        bucket=bucket_arn.split(":::")[-1],
        prefix=prefix,
        error_prefix=error,
        size_bytes=int(float(hints.get("SizeInMBs", DEFAULT_SIZE_MB)) * MIB),
        interval_s=float(hints.get("IntervalInSeconds", DEFAULT_INTERVAL_S)),
        gzip=compression == "GZIP",
        extension=str(config.get("FileExtension") or (".gz" if compression == "GZIP" else "")),
        zone=zone,
        processor_arn=processor_arn,
        processor_size_bytes=int(float(processor_params.get("BufferSizeInMBs", DEFAULT_PROCESSOR_SIZE_MB)) * MIB),
        processor_interval_s=float(processor_params.get("BufferIntervalInSeconds", DEFAULT_PROCESSOR_INTERVAL_S)),
        processor_retries=int(processor_params.get("NumberOfRetries", DEFAULT_PROCESSOR_RETRIES)),
    )


def destination_of(hose: Any) -> S3Destination | None:
    """The S3 destination of a moto delivery stream, or None if it delivers elsewhere."""
    for destination in hose.destinations:
        if "ExtendedS3" in destination:
            return check_config(destination["ExtendedS3"], extended=True)
        if "S3" in destination:
            return check_config(destination["S3"], extended=False)
    return None


@dataclass
class _Record:
    record_id: str
    data: bytes
    arrival: float


@dataclass
class _Buffer:
    generation: int
    records: list[_Record]
    size: int = 0


class FirehoseDelivery:
    """The buffers of every delivery stream, flushed by size at once and by interval on the clock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.core = engine.core
        self._buffers: dict[tuple[str, str, str, str], _Buffer] = {}
        self._generation = 0
        self._lock = threading.Lock()
        #: Objects written, as (bucket, key) — diagnostics and tests.
        self.objects: list[tuple[str, str]] = []

    def accept(self, hose: Any, account_id: str, region: str, datas: list[bytes]) -> list[str] | None:
        """Buffer records put to ``hose``; their record ids, or None when it is not an S3 stream."""
        destination = destination_of(hose)
        if destination is None:
            return None
        now = self.engine.clock()
        records = [_Record(str(uuid.uuid4()), data, now) for data in datas]
        stage = "processor" if destination.processor_arn else "s3"
        self._add((account_id, region, hose.delivery_stream_name, stage), records, destination)
        return [r.record_id for r in records]

    def _limits(self, stage: str, destination: S3Destination) -> tuple[int, float]:
        if stage == "processor":
            return destination.processor_size_bytes, destination.processor_interval_s
        return destination.size_bytes, destination.interval_s

    def _add(self, key: tuple[str, str, str, str], records: list[_Record], destination: S3Destination) -> None:
        size_limit, interval = self._limits(key[3], destination)
        full: list[list[_Record]] = []
        with self._lock:
            for record in records:
                buffer = self._buffers.get(key)
                if buffer is None:
                    self._generation += 1
                    buffer = _Buffer(self._generation, [])
                    self._buffers[key] = buffer
                    self.engine.schedule(
                        interval,
                        lambda k=key, g=buffer.generation: self._interval_due(k, g),
                        f"Firehose {key[2]} {key[3]} buffer interval ({interval:g} s)",
                    )
                buffer.records.append(record)
                buffer.size += len(record.data)
                if buffer.size >= size_limit:
                    full.append(self._buffers.pop(key).records)
        for batch in full:
            self._submit(key, batch)

    def _interval_due(self, key: tuple[str, str, str, str], generation: int) -> None:
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None or buffer.generation != generation:
                return  # flushed by size already; the next buffer has its own timer
            del self._buffers[key]
        self._submit(key, buffer.records)

    def _submit(self, key: tuple[str, str, str, str], records: list[_Record]) -> None:
        self.engine.submit(
            lambda: self._flush(key, records), f"Firehose {key[2]}: deliver {len(records)} record(s) ({key[3]})"
        )

    def _hose(self, key: tuple[str, str, str, str]) -> tuple[Any, S3Destination] | None:
        from moto.firehose.models import firehose_backends

        with self.core.lock:
            hose = firehose_backends[key[0]][key[1]].delivery_streams.get(key[2])
        if hose is None:
            return None  # deleted meanwhile: its buffered records are gone, as on AWS
        destination = destination_of(hose)
        return (hose, destination) if destination is not None else None

    def _flush(self, key: tuple[str, str, str, str], records: list[_Record]) -> None:
        found = self._hose(key)
        if found is None or not records:
            return
        hose, destination = found
        if key[3] == "s3":
            self._write(key, hose, destination, destination.prefix, None, b"".join(r.data for r in records), records)
            return
        ok, failed = self._transform(hose, destination, records, key[1])
        if ok:
            self._add((*key[:3], "s3"), ok, destination)
        if failed:
            body = b"".join(json.dumps(line).encode() + b"\n" for line, _ in failed)
            originals = [record for _, record in failed]
            self._write(key, hose, destination, destination.error_prefix, "processing-failed", body, originals)

    def _transform(
        self, hose: Any, destination: S3Destination, records: list[_Record], region: str
    ) -> tuple[list[_Record], list[tuple[dict[str, Any], _Record]]]:
        arn = str(destination.processor_arn)
        event = {
            "invocationId": str(uuid.uuid4()),
            "deliveryStreamArn": hose.delivery_stream_arn,
            "region": region,
            "records": [
                {
                    "recordId": r.record_id,
                    "approximateArrivalTimestamp": int(r.arrival * 1000),
                    "data": base64.b64encode(r.data).decode(),
                }
                for r in records
            ],
        }
        by_id = {r.record_id: r for r in records}
        attempts, code, message = 0, "Lambda.FunctionError", ""
        spec = self.core.function_spec(arn)
        while attempts <= destination.processor_retries:
            attempts += 1
            if spec is None:
                code, message = "Lambda.FunctionNotFound", f"function {arn} does not exist"
                break
            outcome = self.core.runtime.invoke(spec, event, source=f"firehose:{hose.delivery_stream_name}")
            if outcome.error is not None:
                code, message = "Lambda.FunctionError", str(outcome.error.get("errorMessage", ""))
                continue
            answered = (outcome.result or {}).get("records") if isinstance(outcome.result, dict) else None
            results = {str(a.get("recordId")): a for a in answered or [] if isinstance(a, dict)}
            if set(results) != set(by_id):
                code, message = "Lambda.MissingRecordId", "the function's response does not answer every record id"
                continue
            ok: list[_Record] = []
            failed: list[tuple[dict[str, Any], _Record]] = []
            for record_id, record in by_id.items():
                answer = results[record_id]
                result = answer.get("result")
                if result == "Ok":
                    data = base64.b64decode(answer.get("data") or "")
                    ok.append(_Record(record_id, data, record.arrival))
                elif result == "Dropped":
                    continue
                elif result == "ProcessingFailed":
                    why = "ProcessingFailed status was returned by the function"
                    failed.append((self._failure(record, attempts, "Lambda.ProcessingFailedStatus", why, arn), record))
                else:
                    why = f"result {result!r} is not Ok, Dropped or ProcessingFailed"
                    failed.append((self._failure(record, attempts, "Lambda.InvalidResult", why, arn), record))
            return ok, failed
        return [], [(self._failure(r, attempts, code, message, arn), r) for r in records]

    @staticmethod
    def _failure(record: _Record, attempts: int, code: str, message: str, arn: str) -> dict[str, Any]:
        """One line of a processing-failed object, in the shape Firehose documents."""
        return {
            "attemptsMade": attempts,
            "arrivalTimestamp": int(record.arrival * 1000),
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": int(time.time() * 1000),
            "rawData": base64.b64encode(record.data).decode(),
            "lambdaArn": arn,
        }

    def _write(
        self,
        key: tuple[str, str, str, str],
        hose: Any,
        destination: S3Destination,
        prefix: str,
        error_type: str | None,
        body: bytes,
        records: list[_Record],
    ) -> None:
        oldest = min(r.arrival for r in records)
        evaluated = render_prefix(prefix, at=oldest, zone=destination.zone, error_type=error_type)
        delivered = datetime.fromtimestamp(self.engine.clock(), ZoneInfo(destination.zone))
        name = (
            f"{evaluated}{hose.delivery_stream_name}-{hose.version_id}-"
            f"{delivered.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}{destination.extension}"
        )
        if destination.gzip:
            body = gzip.compress(body)
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        with self.core.lock:
            s3_backends[key[0]][get_partition(key[1])].put_object(destination.bucket, name, body)
        self.objects.append((destination.bucket, name))

    def pending(self) -> list[str]:
        with self._lock:
            return [
                f"Firehose {key[2]}: {len(buffer.records)} record(s) buffered ({key[3]})"
                for key, buffer in self._buffers.items()
            ]
