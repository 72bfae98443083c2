"""Per-thread environment and output for handler code running in-process.

Invocations of different functions run in parallel threads of one process, yet each handler must
see its own function's environment variables (TABLE_NAME, POWERTOOLS_SERVICE_NAME, ...) and its
output must land in its own log stream. ``os.environ`` is replaced by a subclass of ``os._Environ``
whose lookups consult a thread-local overlay first; ``sys.stdout`` / ``sys.stderr`` by streams that
write to the current thread's capture buffer when it has one; a root logging handler does the same
for plain ``logging`` calls. Threads a handler starts inherit its overlay and capture, as they
would inside one Lambda sandbox.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

_DELETED = object()


@dataclass
class _ThreadState:
    """What a thread running handler code sees instead of the process-wide state."""

    env: dict[str, Any]
    capture: io.StringIO
    request_id: str


_local = threading.local()
#: Whether an Isolation is installed (then sandboxes re-wrap replaced stdout / stderr).
_installed = False


def _ensure_streams() -> None:
    """Re-wrap sys.stdout / sys.stderr if someone (pytest's capture) replaced our wrappers."""
    if not _installed:
        return
    if not isinstance(sys.stdout, _ThreadStream):
        sys.stdout = _ThreadStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, _ThreadStream):
        sys.stderr = _ThreadStream(sys.stderr)  # type: ignore[assignment]


def _state() -> _ThreadState | None:
    return getattr(_local, "state", None)


class OverlayEnviron(os._Environ):  # type: ignore[type-arg]  # os._Environ is generic only in stubs
    """``os.environ`` whose reads and writes go to the current invocation's variables first."""

    def __init__(self, base: os._Environ) -> None:  # type: ignore[type-arg]
        super().__init__(
            base._data,  # type: ignore[attr-defined]  # shares the process environment
            base.encodekey,  # type: ignore[attr-defined]
            base.decodekey,  # type: ignore[attr-defined]
            base.encodevalue,  # type: ignore[attr-defined]
            base.decodevalue,  # type: ignore[attr-defined]
        )

    def __getitem__(self, key: str) -> str:
        state = _state()
        if state is not None and key in state.env:
            value = state.env[key]
            if value is _DELETED:
                raise KeyError(key)
            return str(value)
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: str) -> None:
        state = _state()
        if state is not None:
            if not isinstance(value, str):
                raise TypeError(f"str expected, not {type(value).__name__}")
            state.env[key] = value
            return
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        state = _state()
        if state is not None:
            if key not in self:
                raise KeyError(key)
            state.env[key] = _DELETED
            return
        super().__delitem__(key)

    def __iter__(self) -> Iterator[str]:
        state = _state()
        if state is None:
            yield from super().__iter__()
            return
        for key in list(super().__iter__()):
            if key not in state.env:
                yield key
        for key, value in list(state.env.items()):
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)


class _ThreadStream(io.TextIOBase):
    """A text stream writing to the current invocation's capture, else to the original stream."""

    def __init__(self, original: TextIO) -> None:
        super().__init__()
        self.original = original

    def write(self, text: str) -> int:
        state = _state()
        if state is not None:
            return state.capture.write(text)
        return self.original.write(text)

    def flush(self) -> None:
        if _state() is None:
            self.original.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False if _state() is not None else self.original.isatty()

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8") or "utf-8"


class _LambdaLogHandler(logging.Handler):
    """Formats root-logger records the way the Lambda Python runtime does, into the capture."""

    def emit(self, record: logging.LogRecord) -> None:
        state = _state()
        if state is None:
            # Without us the root logger would fall back to logging.lastResort; keep that behaviour.
            root = logging.getLogger()
            last_resort = logging.lastResort
            if root.handlers == [self] and last_resort and record.levelno >= last_resort.level:
                last_resort.handle(record)
            return
        try:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            millis = int(record.msecs)
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            state.capture.write(f"[{record.levelname}]\t{stamp}.{millis:03d}Z\t{state.request_id}\t{message}\n")
        except Exception:  # a logging handler must never raise into handler code
            self.handleError(record)


class Isolation:
    """Installs and removes the process-wide replacements; one instance per local cloud."""

    def __init__(self) -> None:
        self._installed = False
        self._saved_environ: Any = None
        self._saved_start: Callable[..., None] | None = None
        self._handler = _LambdaLogHandler()

    def install(self) -> None:
        if self._installed:
            return
        self._saved_environ = os.environ
        os.environ = OverlayEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003 - shares the data
        sys.stdout = _ThreadStream(sys.stdout)  # type: ignore[assignment]
        sys.stderr = _ThreadStream(sys.stderr)  # type: ignore[assignment]
        logging.getLogger().addHandler(self._handler)
        self._saved_start = threading.Thread.start
        saved_start = self._saved_start

        def start(thread: threading.Thread) -> None:
            # A thread started by handler code belongs to the same sandbox: same env, same log.
            state = _state()
            if state is not None:
                run = thread.run

                def run_in_sandbox() -> None:
                    _local.state = state
                    try:
                        run()
                    finally:
                        _local.state = None

                thread.run = run_in_sandbox  # type: ignore[method-assign]
            saved_start(thread)

        threading.Thread.start = start  # type: ignore[method-assign]
        self._installed = True
        global _installed
        _installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        global _installed
        _installed = False
        threading.Thread.start = self._saved_start  # type: ignore[method-assign]
        logging.getLogger().removeHandler(self._handler)
        while isinstance(sys.stdout, _ThreadStream):
            sys.stdout = sys.stdout.original  # type: ignore[assignment]
        while isinstance(sys.stderr, _ThreadStream):
            sys.stderr = sys.stderr.original  # type: ignore[assignment]
        if isinstance(os.environ, OverlayEnviron):
            os.environ = self._saved_environ  # noqa: B003 - the original object, same data
        self._installed = False


@contextmanager
def sandbox(env: Mapping[str, str], request_id: str) -> Iterator[io.StringIO]:
    """Run the block with ``env`` over the process environment and its output captured."""
    _ensure_streams()
    previous = _state()
    capture = io.StringIO()
    _local.state = _ThreadState(env=dict(env), capture=capture, request_id=request_id)
    try:
        yield capture
    finally:
        _local.state = previous
