"""The in-process Lambda runtime: deployed zips run as Python code in this process.

moto can only run Lambda code in Docker, which these machines do not have. Here a function's zip
is unpacked once per code hash, its handler module imported from that folder and kept warm, and
each invocation calls it with the event and a context object, with the function's environment in
a per-thread overlay (see isolation.py). Modules of different functions never meet in
``sys.modules``: after loading, every module imported from the function's folder is moved into the
function's own cache, so two functions can both have an ``app.py`` and a ``models.py``.

Like Lambda's execution environments, each function has a pool of sandboxes (an imported copy of
its modules with their own globals): an invocation takes an idle one (a warm start) or, when all
are busy, imports the code again into a new one (a cold start), and gives it back when it ends.
Two concurrent invocations of one function therefore never share module-level state (a
module-level Powertools ``BatchProcessor``, a cache, a counter); sequential ones reuse the warm
sandbox. The pool never holds more sandboxes than the function's reserved concurrency allows.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import math
import os
import shutil
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .isolation import sandbox

#: Environment variables the Lambda service sets and a user cannot override.
RESERVED_ENV = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "_HANDLER",
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
        import dataclasses

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
        )


class LambdaContext:
    """The context object handlers receive, with the attributes of the Python Lambda runtime."""

    def __init__(self, spec: FunctionSpec, request_id: str, log_stream: str) -> None:
        self.function_name = spec.name
        self.function_version = spec.version
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = request_id
        self.log_group_name = spec.log_group
        self.log_stream_name = log_stream
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _Sandbox:
    """One warm copy of a function's code: its handler and the modules imported from its folder."""

    folder: Path
    handler: Callable[[Any, Any], Any]
    modules: dict[str, ModuleType]
    provided: frozenset[str]
    log_stream: str
    init_logs: str = ""
    uses: int = 0
    #: Each sandbox gets a number in its pool (diagnostics: how many cold starts there were).
    number: int = 0


_current = threading.local()


class _CachedModuleLoader(importlib.abc.Loader):
    """Hands back a module the function already loaded, for imports made at call time."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        return None


class _SandboxFinder(importlib.abc.MetaPathFinder):
    """Resolves imports made while a handler runs against that handler's folder and module cache."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        box: _Sandbox | None = getattr(_current, "sandbox", None)
        if box is None or fullname.split(".")[0] not in box.provided:
            return None
        cached = box.modules.get(fullname)
        if cached is not None:
            is_package = hasattr(cached, "__path__")
            return importlib.util.spec_from_loader(fullname, _CachedModuleLoader(cached), is_package=is_package)
        if path is None:
            return importlib.machinery.PathFinder.find_spec(fullname, [str(box.folder)])
        return None


def _inside(module: ModuleType | None, folder: str) -> bool:
    if module is None:
        return False
    file = getattr(module, "__file__", None)
    if file:
        return os.path.abspath(file).startswith(folder)
    return any(str(p).startswith(folder) for p in getattr(module, "__path__", []) or [])


def _top_level_names(folder: Path) -> frozenset[str]:
    names = set()
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.name.startswith((".", "__")) and "-" not in entry.name:
            names.add(entry.name)
        elif entry.suffix in (".py", ".pyc", ".so") and entry.stem != "__init__":
            names.add(entry.stem.split(".")[0])
    return frozenset(names)


def _error_shape(exc: BaseException, request_id: str, *, skip_frames: int = 0) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


class CodeCache:
    """Unpacks function zips once per code hash into a folder the local cloud owns."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def folder(self, code_sha: str, code_bytes: bytes) -> Path:
        key = hashlib.sha256(code_sha.encode() or code_bytes).hexdigest()[:20]
        target = self.root / key
        if target.is_dir():
            return target
        with self._lock:
            if target.is_dir():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".{key}.{uuid.uuid4().hex}"
            with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
        return target

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


#: Loading a handler touches sys.path and sys.modules; one function at a time.
_IMPORT_LOCK = threading.RLock()

#: Idle sandboxes kept per function without reserved concurrency (more are loaded while busy).
MAX_IDLE_SANDBOXES = 32


@dataclass
class _Pool:
    """The sandboxes of one function version (code, handler, environment): idle ones and a count."""

    idle: list[_Sandbox]
    busy: int = 0
    loaded: int = 0


class LambdaRuntime:
    """Runs functions in-process and keeps the books: journal, logs, concurrency."""

    def __init__(
        self,
        *,
        code_cache: CodeCache,
        journal: Journal,
        write_logs: Callable[[FunctionSpec, str, list[str]], None],
        release_backend: Callable[[], Any],
        extra_env: Callable[[], Mapping[str, str]],
        clock_skew: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._code = code_cache
        self._clock_skew = clock_skew
        self._journal = journal
        self._write_logs = write_logs
        self._release_backend = release_backend
        self._extra_env = extra_env
        self._pools: dict[tuple[str, ...], _Pool] = {}
        self._latest: dict[str, tuple[str, ...]] = {}
        self._sandbox_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._inflight: dict[str, int] = {}
        self._max_seen: dict[str, int] = {}
        self._finder = _SandboxFinder()

    # -- lifecycle -------------------------------------------------------------------------------

    def install(self) -> None:
        if self._finder not in sys.meta_path:
            sys.meta_path.insert(0, self._finder)

    def uninstall(self) -> None:
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        with self._sandbox_lock:
            self._pools.clear()
            self._latest.clear()

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

    def sandboxes(self, function_name: str) -> int:
        """How many sandboxes (warm or busy) the current version of a function has."""
        with self._sandbox_lock:
            return sum(
                len(pool.idle) + pool.busy for key, pool in self._pools.items() if key[0].split(":")[6] == function_name
            )

    def cold_starts(self, function_name: str) -> int:
        """How many times a function's code was imported into a new sandbox."""
        with self._sandbox_lock:
            return sum(pool.loaded for key, pool in self._pools.items() if key[0].split(":")[6] == function_name)

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
        """Run the handler once; raises FunctionThrottled when over reserved concurrency."""
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
                outcome, log_stream, lines = self._run(spec, event, request_id)
        finally:
            self._release(spec)
        ended = time.time()
        duration_ms = (ended - started) * 1000
        report = [
            f"START RequestId: {request_id} Version: {spec.version}",
            *lines,
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {spec.memory} MB\t"
            "Max Memory Used: 0 MB",
        ]
        self._write_logs(spec, log_stream, report)
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
        """Journal one call of the handler (on this thread, at the current clock skew)."""
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

    def _environment(self, spec: FunctionSpec, folder: Path | None, log_stream: str) -> dict[str, str]:
        env = dict(spec.env)
        env.update(
            {
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "_HANDLER": spec.handler,
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        if folder is not None:
            env["LAMBDA_TASK_ROOT"] = str(folder)
        env.update(self._extra_env())
        return env

    def _run(self, spec: FunctionSpec, event: Any, request_id: str) -> tuple[InvokeOutcome, str, list[str]]:
        outcome = InvokeOutcome(request_id=request_id, executed_version=spec.version)
        if not spec.runtime.startswith("python") or spec.package_type != "Zip":
            kind = spec.runtime or spec.package_type
            outcome.error = {
                "errorMessage": (f"The local cloud runs Python zip functions only; {spec.name} uses {kind}"),
                "errorType": "Runtime.UnsupportedLocally",
                "requestId": request_id,
                "stackTrace": [],
            }
            return outcome, self._stream_name(), []
        box, init_error = self._checkout(spec, request_id)
        if box is None:
            assert init_error is not None
            outcome.error = init_error[0]
            return outcome, self._stream_name(), init_error[1].splitlines()
        keep = False
        try:
            context = LambdaContext(spec, request_id, box.log_stream)
            init_lines = box.init_logs.splitlines() if box.uses == 0 else []
            box.uses += 1
            env = self._environment(spec, box.folder, box.log_stream)
            modules_before = len(sys.modules)
            started = time.monotonic()
            with sandbox(env, request_id) as capture:
                caller = getattr(_current, "sandbox", None)  # a handler invoking a function in its thread
                _current.sandbox = box
                try:
                    result = box.handler(event, context)
                    try:
                        outcome.result = json.loads(json.dumps(result))
                    except (TypeError, ValueError) as exc:
                        outcome.error = {
                            "errorMessage": f"Unable to marshal response: {exc}",
                            "errorType": "Runtime.MarshalError",
                            "requestId": request_id,
                            "stackTrace": [],
                        }
                except Exception as exc:  # any handler exception is a function error
                    outcome.error = _error_shape(exc, request_id, skip_frames=1)
                    capture.write(
                        f"[ERROR] {type(exc).__name__}: {exc}\nTraceback (most recent call last):\n"
                        + "".join(outcome.error["stackTrace"])
                    )
                finally:
                    _current.sandbox = caller
            elapsed = time.monotonic() - started
            if len(sys.modules) != modules_before:
                self._adopt_new_modules(box)
            if elapsed > spec.timeout:
                # Threads cannot be killed: the call ran to its end, but AWS would have stopped it,
                # so the caller sees the timeout and the sandbox is thrown away.
                outcome.result = None
                outcome.error = {
                    "errorMessage": f"Task timed out after {spec.timeout:.2f} seconds",
                    "errorType": "Sandbox.Timedout",
                    "requestId": request_id,
                    "stackTrace": [],
                }
            else:
                keep = True
        finally:
            self._checkin(spec, box, keep=keep)
        return outcome, box.log_stream, init_lines + capture.getvalue().splitlines()

    @staticmethod
    def _stream_name() -> str:
        day = time.strftime("%Y/%m/%d", time.gmtime())
        return f"{day}/[$LATEST]{uuid.uuid4().hex}"

    def _key(self, spec: FunctionSpec) -> tuple[str, ...]:
        env_hash = hashlib.sha256(json.dumps(dict(spec.env), sort_keys=True).encode()).hexdigest()
        return (spec.arn, spec.code_sha, spec.handler, env_hash)

    # -- the sandbox pool ------------------------------------------------------------------------

    def _checkout(
        self, spec: FunctionSpec, request_id: str
    ) -> tuple[_Sandbox | None, tuple[dict[str, Any], str] | None]:
        """An idle sandbox of this function version (warm), else a newly loaded one (cold)."""
        key = self._key(spec)
        with self._sandbox_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _Pool(idle=[])
                self._latest[spec.arn] = key
                # An older version's idle sandboxes will never be used again.
                for other in [k for k in self._pools if k[0] == spec.arn and k != key]:
                    stale = self._pools[other]
                    stale.idle.clear()
                    if stale.busy == 0:
                        del self._pools[other]
            pool.busy += 1
            if pool.idle:
                return pool.idle.pop(), None  # the most recently used one, like Lambda
        loaded: _Sandbox | tuple[dict[str, Any], str] | None = None
        try:
            loaded = self._load_sandbox(spec, request_id)
        finally:
            with self._sandbox_lock:
                if isinstance(loaded, _Sandbox):
                    pool.loaded += 1
                    loaded.number = pool.loaded
                else:
                    pool.busy -= 1
        if isinstance(loaded, _Sandbox):
            return loaded, None
        return None, loaded

    def _checkin(self, spec: FunctionSpec, box: _Sandbox, *, keep: bool) -> None:
        """Give a sandbox back after an invocation; it stays warm unless ``keep`` is false."""
        key = self._key(spec)
        limit = spec.reserved_concurrency or MAX_IDLE_SANDBOXES
        with self._sandbox_lock:
            pool = self._pools.get(key)
            if pool is None:
                return
            pool.busy -= 1
            latest = self._latest.get(spec.arn) == key
            if keep and latest and len(pool.idle) + pool.busy < limit:
                pool.idle.append(box)
            elif not latest and not pool.idle and pool.busy == 0:
                del self._pools[key]

    def _load_sandbox(self, spec: FunctionSpec, request_id: str) -> _Sandbox | tuple[dict[str, Any], str]:
        with _IMPORT_LOCK:
            if not spec.code_bytes:
                error = {
                    "errorMessage": f"Function {spec.name} has no code (its zip was not found)",
                    "errorType": "Runtime.InvalidEntrypoint",
                    "requestId": request_id,
                    "stackTrace": [],
                }
                return error, ""
            try:
                folder = self._code.folder(spec.code_sha, spec.code_bytes)
            except (zipfile.BadZipFile, OSError) as exc:
                error = {
                    "errorMessage": f"Could not unpack the code of {spec.name}: {exc}",
                    "errorType": "Runtime.InvalidEntrypoint",
                    "requestId": request_id,
                    "stackTrace": [],
                }
                return error, ""
            caller = getattr(_current, "sandbox", None)
            _current.sandbox = None  # imports at load time resolve against this folder only
            try:
                return self._load(spec, folder, self._stream_name(), request_id)
            finally:
                _current.sandbox = caller

    def _load(
        self, spec: FunctionSpec, folder: Path, log_stream: str, request_id: str
    ) -> _Sandbox | tuple[dict[str, Any], str]:
        if "." not in spec.handler:
            error = {
                "errorMessage": f"Bad handler '{spec.handler}': not enough values to unpack",
                "errorType": "Runtime.MalformedHandlerName",
                "requestId": request_id,
                "stackTrace": [],
            }
            return error, ""
        module_path, function_name = spec.handler.rsplit(".", 1)
        module_name = module_path.replace("/", ".")
        provided = _top_level_names(folder)
        folder_str = os.path.abspath(folder) + os.sep
        stashed = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] in provided}
        sys.path.insert(0, str(folder))
        importlib.invalidate_caches()
        env = self._environment(spec, folder, log_stream)
        error: dict[str, Any] | None = None
        module: ModuleType | None = None
        with sandbox(env, request_id) as capture:
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # an import failure is the function's init error
                error = _error_shape(exc, request_id)
                error["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
                error["errorType"] = "Runtime.ImportModuleError"
            finally:
                sys.path.remove(str(folder))
                own = {
                    name: sys.modules.pop(name) for name, mod in list(sys.modules.items()) if _inside(mod, folder_str)
                }
                sys.modules.update(stashed)
        init_logs = capture.getvalue()
        if error is not None or module is None:
            return error or {}, init_logs
        handler = getattr(module, function_name, None)
        if not callable(handler):
            return {
                "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                "errorType": "Runtime.HandlerNotFound",
                "requestId": request_id,
                "stackTrace": [],
            }, init_logs
        return _Sandbox(
            folder=folder,
            handler=handler,
            modules=own,
            provided=provided,
            log_stream=log_stream,
            init_logs=init_logs,
        )

    @staticmethod
    def _adopt_new_modules(box: _Sandbox) -> None:
        """Move modules a handler imported at call time out of sys.modules into its own cache."""
        folder_str = os.path.abspath(box.folder) + os.sep
        with _IMPORT_LOCK:
            for name, module in list(sys.modules.items()):
                if _inside(module, folder_str):
                    box.modules[name] = sys.modules.pop(name)
