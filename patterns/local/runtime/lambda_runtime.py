"""The Lambda service's side of execution environments: pools, invocations, limits and the books.

Each function version (code + configuration) has a pool of execution environments, each an OS
process forked from the preloaded fork server (forkserver.py). An invocation takes an idle one (a
warm start: module state survives, as on AWS) or, when all are busy, creates one (a cold start, its
init timed and reported); it never shares an environment with another running invocation. The
environment is killed at the function's timeout, replaced when the code or configuration changes,
reaped when idle for long, and every environment is killed when the cloud closes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._envmain import recv_frame, send_frame
from .code import CodeCache, layer_paths
from .forkserver import ForkServer, ForkServerError, shared_fork_server
from .model import FunctionSpec, FunctionThrottled, Invocation, InvokeOutcome, Journal

#: Idle environments kept per function version without reserved concurrency.
MAX_IDLE_ENVIRONMENTS = 32
#: An environment idle this long is reaped (AWS keeps them for minutes, without a promise).
IDLE_SECONDS = 300.0
#: Lambda's limit on a function's init phase; when it is exceeded Lambda retries the init within the
#: invocation (under the function timeout), so an init may take up to this plus the function timeout.
INIT_TIMEOUT = 10.0

_SIGNALS = {-6: "signal: aborted", -9: "signal: killed", -11: "signal: segmentation fault", -15: "signal: terminated"}


@dataclass
class Environment:
    """One execution environment: a process, the cloud's socket to it, and what it reported."""

    pid: int
    sock: socket.socket
    key: str
    log_stream: str
    number: int
    #: Idle environments its pool may keep: the reserved concurrency, else MAX_IDLE_ENVIRONMENTS.
    keep_limit: int = MAX_IDLE_ENVIRONMENTS
    init_ms: float = 0.0
    init_logs: list[str] = field(default_factory=list)
    uses: int = 0
    idle_since: float = 0.0


@dataclass
class _Pool:
    idle: list[Environment] = field(default_factory=list)
    busy: int = 0
    created: int = 0


def _error(message: str, error_type: str, request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}


class _Died(Exception):
    """The environment's process ended while it had work (exit, signal, or killed at the timeout)."""


class _TimedOut(Exception):
    """The invocation outlived the function's timeout."""


def _events(text: str) -> list[str]:
    """Log events of an environment's output: one per line; a ``\\r`` keeps a multi-line event together."""
    return [line.replace("\r", "\n") for line in text.split("\n") if line]


def _layer_name(arn: str) -> str:
    """``<account>:layer:<name>`` of a layer version ARN (what Settings.layer_stand_ins lists)."""
    parts = arn.split(":")
    return ":".join(parts[4:7]) if len(parts) >= 7 else arn


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


class LambdaRuntime:
    """Runs functions in execution environments and keeps the books: journal, logs, concurrency."""

    def __init__(
        self,
        *,
        code_cache: CodeCache,
        journal: Journal,
        write_logs: Callable[[FunctionSpec, str, list[str]], None],
        release_backend: Callable[[], Any],
        extra_env: Callable[[], Mapping[str, str]],
        clock_skew: Callable[[], float] = lambda: 0.0,
        fork_server: Callable[[], ForkServer] = shared_fork_server,
        layer_stand_ins: Callable[[], Collection[str]] = tuple,
    ) -> None:
        self._layer_stand_ins = layer_stand_ins
        self._code = code_cache
        self._clock_skew = clock_skew
        self._journal = journal
        self._write_logs = write_logs
        self._release_backend = release_backend
        self._extra_env = extra_env
        self._fork_server = fork_server
        self._pools: dict[str, _Pool] = {}
        self._env_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._inflight: dict[str, int] = {}
        self._max_seen: dict[str, int] = {}
        self._closed = False
        self.idle_seconds = IDLE_SECONDS

    # -- lifecycle -------------------------------------------------------------------------------

    def install(self) -> None:
        """Start the fork server now (in the background), so the first invocation does not wait for it."""
        threading.Thread(target=self._warm_up, name="local-cloud-forkserver-start", daemon=True).start()

    def _warm_up(self) -> None:
        with contextlib.suppress(ForkServerError):
            self._fork_server().start()

    def uninstall(self) -> None:
        """Kill every environment (idle ones now; busy ones as their invocations end)."""
        with self._env_lock:
            self._closed = True
            doomed = [env for pool in self._pools.values() for env in pool.idle]
            for pool in self._pools.values():
                pool.idle.clear()
        for env in doomed:
            self._kill(env)

    # -- concurrency -----------------------------------------------------------------------------

    def inflight(self, function_name: str) -> int:
        with self._count_lock:
            return self._inflight.get(function_name, 0)

    def max_concurrency(self, function_name: str) -> int:
        with self._count_lock:
            return self._max_seen.get(function_name, 0)

    def busy(self) -> int:
        """How many invocations (of any function) are running now."""
        with self._count_lock:
            return sum(self._inflight.values())

    def _pools_of(self, function_name: str) -> Iterator[_Pool]:
        for key, pool in self._pools.items():
            if json.loads(key)["arn"].split(":")[6] == function_name:
                yield pool

    def sandboxes(self, function_name: str) -> int:
        """How many execution environments (idle or busy) a function has now."""
        with self._env_lock:
            return sum(len(pool.idle) + pool.busy for pool in self._pools_of(function_name))

    environments = sandboxes

    def cold_starts(self, function_name: str) -> int:
        """How many execution environments were created for a function (each one a cold start)."""
        with self._env_lock:
            return sum(pool.created for pool in self._pools_of(function_name))

    def _acquire(self, spec: FunctionSpec) -> None:
        with self._count_lock:
            running = self._inflight.get(spec.name, 0)
            limit = spec.reserved_concurrency
            if limit is not None and running >= limit:
                raise FunctionThrottled(spec.name, limit)
            self._inflight[spec.name] = running + 1
            self._max_seen[spec.name] = max(self._max_seen.get(spec.name, 0), running + 1)

    def _release(self, spec: FunctionSpec) -> None:
        with self._count_lock:
            self._inflight[spec.name] = self._inflight.get(spec.name, 1) - 1

    # -- invocation ------------------------------------------------------------------------------

    def invoke(
        self,
        spec: FunctionSpec,
        event: Any,
        *,
        source: str,
        request_id: str | None = None,
    ) -> InvokeOutcome:
        """Run the handler once in an environment; raises FunctionThrottled when over reserved concurrency."""
        request_id = request_id or str(uuid.uuid4())
        if isinstance(event, str) and event == "{}":
            event = {}
        with contextlib.suppress(TypeError, ValueError):  # the handler gets its own copy, as over the wire
            event = json.loads(json.dumps(event))
        try:
            self._acquire(spec)
        except FunctionThrottled:
            now = time.time()
            self._record(spec, request_id, source, event, now, now, result=None, error=None, logs="", throttled=True)
            raise
        started = time.time()
        try:
            with self._release_backend():
                outcome, run = self._run(spec, event, request_id)
        finally:
            self._release(spec)
        ended = time.time()
        report = self._report_lines(spec, request_id, run, (ended - started) * 1000)
        self._write_logs(spec, run.log_stream, report)
        outcome.logs = "\n".join(report)
        self._record(
            spec,
            request_id,
            source,
            event,
            started,
            ended,
            result=outcome.result,
            error=outcome.error,
            logs=outcome.logs,
        )
        return outcome

    def _report_lines(self, spec: FunctionSpec, request_id: str, run: _Run, duration_ms: float) -> list[str]:
        """The platform lines Lambda writes around an invocation's own output, in the declared format."""
        billed = max(1, math.ceil(duration_ms))
        if spec.log_format == "JSON":
            metrics: dict[str, Any] = {
                "durationMs": round(duration_ms, 2),
                "billedDurationMs": billed,
                "memorySizeMB": spec.memory,
                "maxMemoryUsedMB": run.max_memory_mb,
            }
            if run.init_ms is not None:
                metrics["initDurationMs"] = round(run.init_ms, 2)
            now = _stamp()
            start = {
                "time": now,
                "type": "platform.start",
                "record": {"requestId": request_id, "version": spec.version},
            }
            report = {
                "time": _stamp(),
                "type": "platform.report",
                "record": {"requestId": request_id, "metrics": metrics, "status": run.status},
            }
            return [json.dumps(start), *run.lines, json.dumps(report)]
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {spec.memory} MB\tMax Memory Used: {run.max_memory_mb} MB"
        )
        if run.init_ms is not None:
            line += f"\tInit Duration: {run.init_ms:.2f} ms"
        if run.status != "success":
            line += f"\tStatus: {run.status}"
        return [
            f"START RequestId: {request_id} Version: {spec.version}",
            *run.lines,
            f"END RequestId: {request_id}",
            line,
        ]

    def _record(
        self,
        spec: FunctionSpec,
        request_id: str,
        source: str,
        event: Any,
        started_at: float,
        ended_at: float,
        *,
        result: Any,
        error: dict[str, Any] | None,
        logs: str,
        throttled: bool = False,
    ) -> None:
        """Journal one call of the handler (at the current clock skew)."""
        self._journal.record(
            Invocation(
                function_name=spec.name,
                function_arn=spec.arn,
                request_id=request_id,
                source=source,
                event=event,
                result=result,
                error=error,
                started_at=started_at,
                ended_at=ended_at,
                thread=threading.current_thread().name,
                logs=logs,
                throttled=throttled,
                clock_skew=self._clock_skew(),
            )
        )

    def _run(self, spec: FunctionSpec, event: Any, request_id: str) -> tuple[InvokeOutcome, _Run]:
        outcome = InvokeOutcome(request_id=request_id, executed_version=spec.version)
        run = _Run(log_stream=self._stream_name(spec))
        if not spec.runtime.startswith("python") or spec.package_type != "Zip":
            kind = spec.runtime or spec.package_type
            outcome.error = _error(
                f"The local cloud runs Python zip functions only; {spec.name} uses {kind}",
                "Runtime.UnsupportedLocally",
                request_id,
            )
            return outcome, run
        try:
            env, init_error = self._checkout(spec, request_id, run)
        except ForkServerError as exc:
            outcome.error = _error(f"No execution environment could be started: {exc}", "Runtime.Unknown", request_id)
            return outcome, run
        if env is None:
            outcome.error = init_error
            return outcome, run
        keep = False
        try:
            run.log_stream = env.log_stream
            env.uses += 1
            keep = self._call(spec, env, event, request_id, outcome, run)
        finally:
            self._checkin(env, keep=keep)
        return outcome, run

    def _call(
        self, spec: FunctionSpec, env: Environment, event: Any, request_id: str, outcome: InvokeOutcome, run: _Run
    ) -> bool:
        """One invocation in ``env``; whether the environment can be used again."""
        deadline = time.monotonic() + spec.timeout
        try:
            send_frame(
                env.sock,
                {
                    "op": "invoke",
                    "request_id": request_id,
                    "event": event,
                    "deadline": deadline,
                    "skew": self._clock_skew(),
                },
            )
            reply = self._read_until(env, "result", deadline, run)
        except _TimedOut:
            self._kill(env)
            run.lines.append(f"{_stamp()} {request_id} Task timed out after {spec.timeout:.2f} seconds")
            run.status = "timeout"
            outcome.error = _error(f"Task timed out after {spec.timeout:.2f} seconds", "Sandbox.Timedout", request_id)
            return False
        except (_Died, OSError):
            outcome.error = self._exit_error(env, request_id, run)
            return False
        run.max_memory_mb = int(reply.get("max_memory_mb") or 0)
        if reply.get("error") is not None:
            outcome.error = {**reply["error"], "requestId": request_id}
            outcome.error = {k: outcome.error[k] for k in ("errorMessage", "errorType", "requestId", "stackTrace")}
        else:
            outcome.result = reply.get("result")
        return True

    def _exit_error(self, env: Environment, request_id: str, run: _Run) -> dict[str, Any]:
        """Runtime.ExitError with how the process ended, as Lambda words it."""
        status = self._fork_server().exit_status(env.pid, timeout=2.0)
        if status is None:
            self._kill(env)
            reason = "signal: killed"
        elif status < 0:
            reason = _SIGNALS.get(status, f"signal: {-status}")
        else:
            reason = f"exit status {status}"
        run.status = "error"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        run.lines.append(message)
        return _error(message, "Runtime.ExitError", request_id)

    def _read_until(self, env: Environment, op: str, deadline: float, run: _Run) -> dict[str, Any]:
        """Frames from the environment until ``op``; its logs go to ``run``; raises at the deadline or exit."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _TimedOut
            env.sock.settimeout(remaining)
            try:
                message = recv_frame(env.sock)
            except TimeoutError as exc:
                raise _TimedOut from exc
            if message is None:
                raise _Died
            if message.get("op") == "log":
                run.lines.extend(_events(message["text"]))
                continue
            if message.get("op") == op:
                return message

    @staticmethod
    def _stream_name(spec: FunctionSpec) -> str:
        day = time.strftime("%Y/%m/%d", time.gmtime())
        return f"{day}/[{spec.version}]{uuid.uuid4().hex}"

    # -- environments ----------------------------------------------------------------------------

    def _checkout(
        self, spec: FunctionSpec, request_id: str, run: _Run
    ) -> tuple[Environment | None, dict[str, Any] | None]:
        """An idle environment of this function version (warm), else a new one (cold, init reported)."""
        key = spec.config_key
        doomed: list[Environment] = []
        with self._env_lock:
            doomed.extend(self._reap_locked(spec.arn, key))
            pool = self._pools.setdefault(key, _Pool())
            pool.busy += 1
            env = pool.idle.pop() if pool.idle else None  # the most recently used one, like Lambda
        for stale in doomed:
            self._kill(stale)
        if env is not None:
            return env, None
        created: Environment | None = None
        try:
            created, error = self._create(spec, key, request_id, run)
        finally:
            with self._env_lock:
                if created is not None:
                    pool.created += 1
                    created.number = pool.created
                else:
                    pool.busy -= 1
        return created, error

    def _reap_locked(self, arn: str, key: str) -> list[Environment]:
        """Idle environments to kill: older versions of this function, and any idle too long."""
        doomed: list[Environment] = []
        now = time.monotonic()
        for other, pool in list(self._pools.items()):
            stale = other != key and json.loads(other)["arn"] == arn
            keep = []
            for env in pool.idle:
                (doomed if stale or now - env.idle_since > self.idle_seconds else keep).append(env)
            pool.idle = keep
            if stale and not pool.busy and not pool.idle:
                del self._pools[other]
        return doomed

    def _checkin(self, env: Environment, *, keep: bool) -> None:
        limit = env.keep_limit
        with self._env_lock:
            pool = self._pools.get(env.key)
            if pool is not None:
                pool.busy -= 1
            if keep and pool is not None and not self._closed and len(pool.idle) < limit:
                env.idle_since = time.monotonic()
                pool.idle.append(env)
                return
        self._kill(env)

    def _kill(self, env: Environment) -> None:
        with contextlib.suppress(OSError):
            env.sock.close()
        self._fork_server().kill(env.pid)

    def _create(
        self, spec: FunctionSpec, key: str, request_id: str, run: _Run
    ) -> tuple[Environment | None, dict[str, Any] | None]:
        """Fork an environment and run the function's init phase in it."""
        if not spec.code_bytes:
            return None, _error(
                f"Function {spec.name} has no code (its zip was not found)", "Runtime.InvalidEntrypoint", request_id
            )
        stand_ins = set(self._layer_stand_ins())
        missing = [layer.arn for layer in spec.layers if layer.missing and _layer_name(layer.arn) not in stand_ins]
        if missing:
            return None, _error(
                f"Layer version {missing[0]} of {spec.name} is not hosted by the local cloud: deploy the layer in "
                f"the same app, or let the venv stand in for it with Settings(layer_stand_ins=("
                f"{_layer_name(missing[0])!r},))",
                "Runtime.LayerNotFound",
                request_id,
            )
        layers = [layer for layer in spec.layers if not layer.missing]
        try:
            folder = self._code.folder(spec.code_sha, spec.code_bytes)
            opt = self._code.opt(layers) if layers else None
        except (zipfile.BadZipFile, OSError) as exc:
            return None, _error(
                f"Could not unpack the code of {spec.name}: {exc}", "Runtime.InvalidEntrypoint", request_id
            )
        started = time.monotonic()
        pid, sock = self._fork_server().spawn()
        env = Environment(
            pid=pid,
            sock=sock,
            key=key,
            log_stream=run.log_stream,
            number=0,
            keep_limit=spec.reserved_concurrency or MAX_IDLE_ENVIRONMENTS,
        )
        init = {
            "env": self._environment(spec, folder, opt, run.log_stream),
            "task_root": str(folder),
            "layer_paths": layer_paths(opt, spec.runtime) if opt is not None else [],
            "handler": spec.handler,
            "skew": self._clock_skew(),
            "function_name": spec.name,
            "function_version": spec.version,
            "function_arn": spec.arn,
            "memory": spec.memory,
            "log_group": spec.log_group,
            "log_stream": run.log_stream,
            "log_format": spec.log_format,
            "app_log_level": spec.application_log_level if spec.log_format == "JSON" else None,
        }
        try:
            send_frame(sock, init)
            ready = self._read_until(env, "ready", started + INIT_TIMEOUT + spec.timeout, run)
        except _TimedOut:
            self._kill(env)
            run.status = "timeout"
            return None, _error(
                f"Init phase timed out after {INIT_TIMEOUT + spec.timeout:.2f} seconds", "Sandbox.Timedout", request_id
            )
        except (_Died, OSError):
            return None, self._exit_error(env, request_id, run)
        run.init_ms = (time.monotonic() - started) * 1000
        if ready.get("error") is not None:
            self._kill(env)
            error = {**ready["error"], "requestId": request_id}
            run.lines.append(f"[ERROR] {error['errorType']}: {error['errorMessage']}")
            run.status = "error"
            return None, {k: error[k] for k in ("errorMessage", "errorType", "requestId", "stackTrace")}
        return env, None

    def _environment(self, spec: FunctionSpec, folder: Path, opt: Path | None, log_stream: str) -> dict[str, str]:
        """The process environment Lambda gives a function: its variables, then the reserved ones."""
        env = dict(spec.env)
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
                "LAMBDA_TASK_ROOT": str(folder),
                "LAMBDA_RUNTIME_DIR": str(Path(__file__).parent),
                "_HANDLER": spec.handler,
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        if spec.log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            if spec.application_log_level:
                env["AWS_LAMBDA_LOG_LEVEL"] = spec.application_log_level.upper()
        if opt is not None:
            env["LD_LIBRARY_PATH"] = f"{folder}/lib:{opt}/lib"
        env.update(self._extra_env())
        return env


@dataclass
class _Run:
    """What one invocation produced besides its outcome: log lines, memory, init, how it ended."""

    log_stream: str
    lines: list[str] = field(default_factory=list)
    init_ms: float | None = None
    max_memory_mb: int = 0
    status: str = "success"
