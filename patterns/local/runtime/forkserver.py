"""The cloud's side of the fork server: start it once per process, ask it for environments, hear exits.

The cloud is multi-threaded (pollers, HTTP servers, handlers' callbacks), so it must never fork
itself. It starts one preloaded single-threaded server (_envmain.py, a fresh interpreter started
with ``-I`` so no project path is on sys.path) and asks it over a SOCK_SEQPACKET socket to fork;
the environment's own socket travels with the request (SCM_RIGHTS), and the server reports how each
environment ended, which is how a handler's ``os._exit`` or segfault is told apart from a timeout.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

_SCRIPT = Path(__file__).with_name("_envmain.py")

#: How long to wait for the server's first message (it imports boto3, Powertools and pydantic).
START_TIMEOUT = 60.0


class ForkServerError(RuntimeError):
    """The fork server could not be started or stopped answering."""


class ForkServer:
    """One preloaded fork server; ``spawn()`` gives a new environment's pid and the socket to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._spawned: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self._alive: set[int] = set()
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._started = threading.Event()
        self._dead = False

    def start(self) -> None:
        with self._lock:
            if self._process is not None:
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "en_US.UTF-8",
                "TZ": "UTC",
                "HOME": os.environ.get("HOME", tempfile.gettempdir()),
            }
            self._process = subprocess.Popen(
                [sys.executable, "-I", str(_SCRIPT), str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=tempfile.gettempdir(),
            )
            theirs.close()
            self._control = ours
            self._reader = threading.Thread(target=self._read, name="local-cloud-forkserver", daemon=True)
            self._reader.start()
        if not self._started.wait(START_TIMEOUT) or self._dead:
            raise ForkServerError(f"the Lambda fork server did not start (exit code {self._process.poll()})")

    def _read(self) -> None:
        control = self._control  # close() clears the attribute while this thread may still be reading
        assert control is not None
        while True:
            try:
                data = control.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self._cond:
                    self._dead = True
                    for pid in self._alive:
                        self._exits.setdefault(pid, -9)
                    self._alive.clear()
                    self._cond.notify_all()
                self._started.set()
                return
            message: dict[str, Any] = json.loads(data)
            with self._cond:
                if message["op"] == "spawned":
                    self._spawned[message["id"]] = message["pid"]
                    self._alive.add(message["pid"])
                elif message["op"] == "exit":
                    self._alive.discard(message["pid"])
                    self._exits[message["pid"]] = message["status"]
                self._cond.notify_all()
            if message["op"] == "started":
                self._started.set()

    def spawn(self, timeout: float = 60.0) -> tuple[int, socket.socket]:
        """Fork a new environment; returns its pid and the cloud's end of its socket."""
        self.start()
        assert self._control is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request_id = next(self._ids)
        try:
            with self._lock:
                socket.send_fds(
                    self._control, [json.dumps({"op": "spawn", "id": request_id}).encode()], [theirs.fileno()]
                )
        except OSError as exc:
            ours.close()
            raise ForkServerError(f"the Lambda fork server is gone: {exc}") from exc
        finally:
            theirs.close()
        with self._cond:
            if not self._cond.wait_for(lambda: request_id in self._spawned or self._dead, timeout):
                ours.close()
                raise ForkServerError("the Lambda fork server did not fork an environment in time")
            if request_id not in self._spawned:
                ours.close()
                raise ForkServerError("the Lambda fork server is gone")
            return self._spawned.pop(request_id), ours

    def kill(self, pid: int) -> None:
        """Kill an environment (SIGKILL, through the server, which knows whether it is still alive)."""
        if self._control is None:
            return
        try:
            with self._lock:
                self._control.send(json.dumps({"op": "kill", "pid": pid}).encode())
        except OSError:
            return

    def exit_status(self, pid: int, timeout: float) -> int | None:
        """How an environment ended (exit code, or minus the signal), waiting up to ``timeout``."""
        with self._cond:
            self._cond.wait_for(lambda: pid in self._exits, timeout)
            return self._exits.pop(pid, None)

    def forget(self, pid: int) -> None:
        with self._cond:
            self._exits.pop(pid, None)

    def close(self) -> None:
        with self._lock:
            control, process = self._control, self._process
            self._control = None
            self._process = None
        if control is not None:
            control.close()
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


_shared: ForkServer | None = None
_shared_lock = threading.Lock()


def shared_fork_server() -> ForkServer:
    """The process's fork server (started once: ~0.2 s; every local cloud of the process reuses it)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._dead:
            _shared = ForkServer()
            atexit.register(_shared.close)
        return _shared
