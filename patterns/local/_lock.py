"""The one lock around moto's backends.

moto is not thread-safe (an SQS ``delete_message`` rebuilds the message list while a concurrent
``send_message`` appends to it, and the appended message is lost). The local cloud runs handlers,
pollers and HTTP requests in parallel threads, so every access to a backend goes through this lock.
A thread that holds it while it runs handler code (a synchronous Lambda invoke inside a request)
releases it completely for that time, or a handler calling AWS from another thread would deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BackendLock:
    """A re-entrant lock that its owner can release completely and take back at the same depth."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        self._lock.acquire()
        self._owner = me
        self._depth = 1

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("BackendLock released by a thread that does not hold it")
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    def __enter__(self) -> BackendLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Give the lock up entirely (whatever the depth) for the block, if this thread holds it."""
        if self._owner != threading.get_ident():
            yield
            return
        depth = self._depth
        self._depth = 0
        self._owner = None
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._owner = threading.get_ident()
            self._depth = depth
