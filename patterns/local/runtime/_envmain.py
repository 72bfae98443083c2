"""The fork server and the execution environments it forks: the side of the runtime that runs user code.

Run as a script (``python -I _envmain.py <control fd>``), never imported by the cloud: it needs only the
standard library, so it starts without importing patterns/, moto or aws_cdk. It imports the libraries
most handlers use (boto3, botocore, Powertools, pydantic) once, then forks one child per execution
environment on request. A child is single-threaded at fork time (this server has one thread), so it is
a clean copy of a preloaded interpreter; it then loads the function's code and serves invocations on
its own socket, one at a time, exactly as a Lambda execution environment does.

Wire format on every socket: frames of a 4-byte big-endian length and a UTF-8 JSON object.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as _datetime
import gc
import importlib
import io
import json
import logging
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

#: What the fork server imports before forking (the facts file measured ~6 ms per environment then).
PRELOAD = ("boto3", "botocore.session", "aws_lambda_powertools", "aws_lambda_powertools.event_handler", "pydantic")

_HEADER = struct.Struct(">I")


# -- framing -----------------------------------------------------------------------------------------


def send_frame(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> dict[str, Any] | None:
    """The next frame, or None at end of stream."""
    header = _recv_exact(sock, _HEADER.size)
    if header is None:
        return None
    body = _recv_exact(sock, _HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


# -- the virtual clock -------------------------------------------------------------------------------

_real_time = time.time
_real_time_ns = time.time_ns
_RealDatetime = _datetime.datetime
_RealDate = _datetime.date
_skew = 0.0


def _time() -> float:
    return _real_time() + _skew


def _time_ns() -> int:
    return _real_time_ns() + int(_skew * 1_000_000_000)


class _ClockMeta(type):
    """Keeps isinstance() true for datetimes made before the swap (botocore's, for example)."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls.__bases__[0])

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.__bases__[0])


class _VirtualDatetime(_RealDatetime, metaclass=_ClockMeta):
    """datetime whose now()/utcnow()/today() read the virtual clock (drain() fast-forwards it)."""

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:  # type: ignore[override]
        return _RealDatetime.fromtimestamp(_time(), tz)

    @classmethod
    def utcnow(cls) -> _datetime.datetime:  # type: ignore[override]
        return _RealDatetime.fromtimestamp(_time(), _datetime.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> _datetime.datetime:  # type: ignore[override]
        return _RealDatetime.fromtimestamp(_time())


class _VirtualDate(_RealDate, metaclass=_ClockMeta):
    @classmethod
    def today(cls) -> _datetime.date:  # type: ignore[override]
        return _RealDate.fromtimestamp(_time())


def install_clock() -> None:
    """Route the wall clock of code loaded from now on (and of time.time callers) to the virtual clock."""
    time.time = _time
    time.time_ns = _time_ns
    _datetime.datetime = _VirtualDatetime  # type: ignore[misc]
    _datetime.date = _VirtualDate  # type: ignore[misc]


def set_skew(seconds: float) -> None:
    global _skew
    _skew = float(seconds)


# -- output to the cloud -------------------------------------------------------------------------------


class _Channel:
    """The environment's socket; handler threads may write logs while the main thread answers."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self.lock:
            send_frame(self.sock, message)


class _LogStream(io.TextIOBase):
    """sys.stdout / sys.stderr of an environment: each complete line becomes a log event."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self.channel = channel
        self.buffer_text = ""
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.buffer_text += text
            if "\n" in self.buffer_text:
                complete, _, self.buffer_text = self.buffer_text.rpartition("\n")
                self.channel.send({"op": "log", "text": complete})
        return len(text)

    def flush(self) -> None:
        with self.lock:
            if self.buffer_text:
                text, self.buffer_text = self.buffer_text, ""
                self.channel.send({"op": "log", "text": text})

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class _RequestIdFilter(logging.Filter):
    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__()
        self.state = state

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.state.get("request_id", "")
        return True


class _TextFormatter(logging.Formatter):
    """The Lambda Python runtime's text format: ``[LEVEL]\\t<time>Z\\t<request id>\\t<message>``."""

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        self.converter = time.gmtime


class _JsonFormatter(logging.Formatter):
    """The Lambda Python runtime's JSON format (LoggingConfig LogFormat JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "timestamp": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["errorType"] = type(exc).__name__
            entry["errorMessage"] = str(exc)
            entry["stackTrace"] = traceback.format_tb(exc.__traceback__)
        return json.dumps(entry, default=str)


# -- the execution environment -----------------------------------------------------------------------


def _error(message: str, error_type: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


def _load_handler(handler: str) -> tuple[Callable[..., Any] | None, dict[str, Any] | None]:
    """Import the handler as the Lambda Python runtime does, with its error types and messages."""
    module_path, _, function_name = handler.rpartition(".")
    if not module_path or not function_name:
        return None, _error(
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)", "Runtime.MalformedHandlerName"
        )
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        where = f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}'
        return None, _error(f"Syntax error in module '{module_name}': {exc}", "Runtime.UserCodeSyntaxError", [where])
    except ImportError as exc:
        return None, _error(f"Unable to import module '{module_name}': {exc}", "Runtime.ImportModuleError")
    except Exception as exc:  # an exception while the module initialises is the function's init error
        frames = traceback.format_tb(exc.__traceback__)[1:]
        return None, _error(str(exc), type(exc).__name__, frames)
    function = getattr(module, function_name, None)
    if function is None:
        return None, _error(f"Handler '{function_name}' missing on module '{module_name}'", "Runtime.HandlerNotFound")
    return function, None


class _Context:
    """The context object of the Python runtime, with a live get_remaining_time_in_millis()."""

    def __init__(self, init: dict[str, Any], invoke: dict[str, Any]) -> None:
        self.function_name = init["function_name"]
        self.function_version = init["function_version"]
        self.invoked_function_arn = invoke.get("invoked_function_arn") or init["function_arn"]
        self.memory_limit_in_mb = init["memory"]
        self.aws_request_id = invoke["request_id"]
        self.log_group_name = init["log_group"]
        self.log_stream_name = init["log_stream"]
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = float(invoke["deadline"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _max_memory_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def run_environment(sock: socket.socket) -> None:
    """Initialise the function (first frame) and serve its invocations until the cloud hangs up."""
    channel = _Channel(sock)
    init = recv_frame(sock)
    if init is None:
        return
    set_skew(init.get("skew", 0.0))
    install_clock()
    os.environ.clear()
    os.environ.update(init["env"])
    time.tzset()
    os.chdir(init["task_root"])
    sys.path[:0] = [init["task_root"], *init.get("layer_paths", [])]
    importlib.invalidate_caches()
    stdout = _LogStream(channel)
    sys.stdout = stdout  # type: ignore[assignment]
    sys.stderr = stdout  # type: ignore[assignment]
    state: dict[str, Any] = {"request_id": ""}
    root = logging.getLogger()
    log_handler = logging.StreamHandler(stdout)
    log_handler.addFilter(_RequestIdFilter(state))
    json_logs = init.get("log_format") == "JSON"
    log_handler.setFormatter(_JsonFormatter() if json_logs else _TextFormatter())
    root.handlers = [log_handler]
    if init.get("app_log_level"):
        root.setLevel(str(init["app_log_level"]).upper())
    started = time.monotonic()
    handler, error = _load_handler(init["handler"])
    stdout.flush()
    init_ms = (time.monotonic() - started) * 1000
    channel.send({"op": "ready", "init_ms": init_ms, "error": error})
    if handler is None:
        return
    while True:
        message = recv_frame(sock)
        if message is None or message.get("op") != "invoke":
            return
        set_skew(message.get("skew", 0.0))
        state["request_id"] = message["request_id"]
        context = _Context(init, message)
        reply: dict[str, Any] = {"op": "result"}
        try:
            result = handler(message["event"], context)
            try:
                reply["result"] = json.loads(json.dumps(result))
            except (TypeError, ValueError) as exc:
                reply["error"] = _error(f"Unable to marshal response: {exc}", "Runtime.MarshalError")
        except Exception as exc:  # any exception of the handler is the invocation's function error
            frames = traceback.format_tb(exc.__traceback__)[1:]
            reply["error"] = _error(str(exc), type(exc).__name__, frames)
            if json_logs:
                entry = {
                    "timestamp": _RealDatetime.now(_datetime.UTC).isoformat(timespec="milliseconds"),
                    "level": "ERROR",
                    "message": reply["error"],
                    "requestId": message["request_id"],
                }
                stdout.write(json.dumps(entry) + "\n")
            else:
                stdout.write(
                    f"[ERROR] {type(exc).__name__}: {exc}\rTraceback (most recent call last):\r"
                    + "".join(frames).replace("\n", "\r")
                    + "\n"
                )
        stdout.flush()
        reply["max_memory_mb"] = _max_memory_mb()
        channel.send(reply)


# -- the fork server ---------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no orphan environments)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _exit_status(status: int) -> int:
    """A waitpid status as a return code: the exit code, or minus the signal number."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def serve(control: socket.socket) -> None:
    """Fork an environment per ``spawn`` request (the socket to serve arrives with it); report exits."""
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # Keep the preloaded objects out of the children's garbage collections: a collection would touch
    # (and so copy) every page of the preloaded libraries in each new environment.
    gc.collect()
    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    send_frame_seq(control, {"op": "started", "pid": os.getpid()})
    try:
        while True:
            with contextlib.suppress(InterruptedError):
                readable, _, _ = select.select([control, wake_r], [], [])
            if wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                while children:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    children.discard(pid)
                    send_frame_seq(control, {"op": "exit", "pid": pid, "status": _exit_status(status)})
            if control not in readable:
                continue
            data, fds, _, _ = socket.recv_fds(control, 65536, 1)
            if not data:
                return
            message = json.loads(data)
            if message["op"] == "spawn":
                pid = os.fork()
                if pid == 0:
                    try:
                        control.close()
                        os.close(wake_r)
                        os.close(wake_w)
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        _die_with_parent()
                        run_environment(socket.socket(fileno=fds[0]))
                    except BaseException:
                        with contextlib.suppress(Exception):
                            traceback.print_exc(file=sys.__stderr__)
                        os._exit(1)
                    os._exit(0)
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                send_frame_seq(control, {"op": "spawned", "id": message["id"], "pid": pid})
            elif message["op"] == "kill" and message["pid"] in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(message["pid"], signal.SIGKILL)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def send_frame_seq(sock: socket.socket, message: dict[str, Any]) -> None:
    """A message on the SOCK_SEQPACKET control socket (one packet each: no length prefix)."""
    sock.send(json.dumps(message).encode())


if __name__ == "__main__":
    # No PR_SET_PDEATHSIG here: Linux ties it to the parent *thread*, and the cloud may start this
    # server from a short-lived thread. The control socket's end of stream stops it instead.
    serve(socket.socket(fileno=int(sys.argv[1])))
