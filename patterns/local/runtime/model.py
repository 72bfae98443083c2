"""What the runtime records and takes: invocations, the journal, outcomes and function snapshots.

Leaf module of the runtime package: it imports nothing from the rest of the local cloud.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Environment variables the Lambda service sets and a user cannot override.
RESERVED_ENV = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "_HANDLER",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
)


class FunctionThrottled(Exception):
    """The function is already running at its reserved concurrency."""

    def __init__(self, function_name: str, limit: int) -> None:
        super().__init__(f"Rate Exceeded: {function_name} is at its reserved concurrency ({limit})")
        self.function_name = function_name
        self.limit = limit


@dataclass(frozen=True)
class Invocation:
    """One call of a handler, as recorded in the journal."""

    function_name: str
    function_arn: str
    request_id: str
    source: str
    event: Any
    result: Any
    error: dict[str, Any] | None
    started_at: float
    ended_at: float
    thread: str
    logs: str
    throttled: bool = False
    #: How far the local cloud's virtual clock was ahead of the wall clock while this ran
    #: (drain() skips retry back-offs on it; see engine.py).
    clock_skew: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.throttled

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at

    @property
    def virtual_started_at(self) -> float:
        """When it started on the virtual clock: AWS's timeline, with back-offs at full length."""
        return self.started_at + self.clock_skew

    @property
    def virtual_ended_at(self) -> float:
        return self.ended_at + self.clock_skew


class Journal:
    """Every invocation, in the order they finished; safe to read while handlers run.

    ``limit`` keeps only the latest entries, and ``max_bytes`` bounds their total size (a
    long-running server must not grow without bound): an event, result or log over ``max_body``
    bytes (as JSON) is kept truncated, as ``{"truncated": True, "size": <bytes>, "head": <start>}``.
    """

    def __init__(
        self, limit: int | None = None, *, max_body: int = 256 * 1024, max_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self._lock = threading.Lock()
        self._entries: deque[tuple[Invocation, int]] = deque(maxlen=limit)
        self._bytes = 0
        self.max_body = max_body
        self.max_bytes = max_bytes

    def _bounded(self, value: Any) -> tuple[Any, int]:
        """(value, size) with a value over ``max_body`` replaced by its truncated record."""
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        size = len(text.encode("utf-8", errors="replace"))
        if size <= self.max_body:
            return value, size
        head = text[: self.max_body // 4]
        return {"truncated": True, "size": size, "head": head}, len(head) + 64

    def record(self, invocation: Invocation) -> None:
        event, event_size = self._bounded(invocation.event)
        result, result_size = self._bounded(invocation.result)
        logs, logs_size = self._bounded(invocation.logs)
        if isinstance(logs, dict):
            logs = f"[truncated: {logs['size']} bytes] {logs['head']}"
        invocation = dataclasses.replace(invocation, event=event, result=result, logs=logs)
        size = event_size + result_size + logs_size + 512
        with self._lock:
            if self._entries.maxlen is not None and len(self._entries) == self._entries.maxlen:
                self._bytes -= self._entries[0][1]
            self._entries.append((invocation, size))
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                self._bytes -= self._entries.popleft()[1]

    def entries(self, function_name: str | None = None) -> list[Invocation]:
        with self._lock:
            entries = [entry for entry, _ in self._entries]
        if function_name is None:
            return entries
        return [e for e in entries if e.function_name == function_name]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


@dataclass
class InvokeOutcome:
    """What one invocation produced; ``error`` is the Lambda error shape when the handler failed."""

    request_id: str
    result: Any = None
    error: dict[str, Any] | None = None
    logs: str = ""
    throttled: bool = False
    executed_version: str = "$LATEST"

    @property
    def ok(self) -> bool:
        return self.error is None and not self.throttled

    def payload_json(self) -> str:
        return json.dumps(self.error if self.error is not None else self.result)


@dataclass(frozen=True)
class FunctionSpec:
    """A consistent snapshot of a moto function, taken under the backend lock."""

    name: str
    arn: str
    account_id: str
    region: str
    version: str
    handler: str
    runtime: str
    package_type: str
    code_sha: str
    code_bytes: bytes
    env: Mapping[str, str]
    timeout: float
    memory: int
    log_group: str
    reserved_concurrency: int | None
    role: str
    #: The function's layers in order (a stand-in layer the venv provides is left out).
    layers: tuple[LayerSpec, ...] = ()
    #: LoggingConfig: "Text" or "JSON", and the levels the runtime applies in JSON format.
    log_format: str = "Text"
    application_log_level: str | None = None
    system_log_level: str | None = None

    @property
    def config_key(self) -> str:
        """What makes an environment reusable: any change of code or configuration replaces it, as on AWS."""
        parts = {
            "arn": self.arn,
            "code": self.code_sha,
            "handler": self.handler,
            "runtime": self.runtime,
            "env": dict(self.env),
            "timeout": self.timeout,
            "memory": self.memory,
            "layers": [(layer.arn, layer.code_sha) for layer in self.layers],
            "logging": [self.log_format, self.application_log_level, self.system_log_level, self.log_group],
        }
        return json.dumps(parts, sort_keys=True)

    @classmethod
    def from_moto(cls, fn: Any) -> FunctionSpec:
        extra: Mapping[str, Any] = getattr(fn, "local_cloud_props", None) or {}
        logging_config = extra.get("LoggingConfig") or {}
        reserved = fn.reserved_concurrency
        return cls(
            name=fn.function_name,
            arn=f"arn:aws:lambda:{fn.region}:{fn.account_id}:function:{fn.function_name}",
            account_id=fn.account_id,
            region=fn.region,
            version=str(fn.version),
            handler=fn.handler or "",
            runtime=fn.run_time or "",
            package_type=fn.package_type or "Zip",
            code_sha=getattr(fn, "code_sha_256", "") or "",
            code_bytes=getattr(fn, "code_bytes", b"") or b"",
            env={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
            timeout=float(fn.timeout or 3),
            memory=int(fn.memory_size or 128),
            log_group=logging_config.get("LogGroup") or f"/aws/lambda/{fn.function_name}",
            reserved_concurrency=None if reserved in (None, "") else int(reserved),
            role=fn.role or "",
            layers=tuple(_layers(fn, extra.get("Layers") or [])),
            log_format=str(logging_config.get("LogFormat") or "Text"),
            application_log_level=logging_config.get("ApplicationLogLevel"),
            system_log_level=logging_config.get("SystemLogLevel"),
        )


#: The account publishing the public Powertools for AWS Lambda layers; the venv's Powertools stands in.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"


@dataclass(frozen=True)
class LayerSpec:
    """One layer version of a function: its zip, or ``missing`` when the local cloud does not host it."""

    arn: str
    code_sha: str = ""
    code_bytes: bytes = field(default=b"", repr=False)
    missing: bool = False


def _layers(fn: Any, arns: list[Any]) -> list[LayerSpec]:
    """The layer versions a function names, resolved in moto's Lambda backend (call under the lock)."""
    from moto.awslambda.models import lambda_backends

    found = []
    for ref in arns:
        if hasattr(ref, "code_bytes"):  # moto resolves a template's Ref to the LayerVersion itself
            found.append(LayerSpec(arn=str(ref.arn), code_sha=ref.code_sha_256, code_bytes=ref.code_bytes))
            continue
        arn = ref.get("Arn", "") if isinstance(ref, dict) else str(ref)
        parts = arn.split(":")
        if len(parts) < 8 or parts[4] == POWERTOOLS_LAYER_ACCOUNT:
            continue
        try:
            version = lambda_backends[parts[4]][parts[3]].layers_versions_by_arn(arn)
        except Exception:  # an unknown account or region: the layer is not hosted here
            version = None
        if version is None or not getattr(version, "code_bytes", b""):
            found.append(LayerSpec(arn=arn, missing=True))
        else:
            found.append(LayerSpec(arn=arn, code_sha=version.code_sha_256, code_bytes=version.code_bytes))
    return found
