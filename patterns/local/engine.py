"""Scheduling of everything that happens after a request returns: pollers, async invokes, drain.

AWS runs event source pollers and asynchronous invocations on its own schedule; a test needs the
opposite, a point where "everything that was going to happen has happened". The engine does both:
in a server it polls in a background thread in real time (long waits capped by
``Settings.time_cap``); in tests ``drain()`` polls in the calling thread, runs the work on a thread
pool (so concurrency limits are real) and fast-forwards the clocks that only make tests slow
(visibility timeouts, retry back-off, batching windows, tumbling windows) once nothing else is left.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import DrainTimeout, LocalCloudError
from .runtime import FunctionSpec, FunctionThrottled, InvokeOutcome

if TYPE_CHECKING:
    from .core import CloudCore


@dataclass(frozen=True)
class Settings:
    """Knobs of the local cloud's timing; the defaults suit tests and a developer's server."""

    #: Threads that run handler invocations in parallel.
    workers: int = 16
    #: Concurrent SQS batches per event source mapping when neither ScalingConfig.MaximumConcurrency
    #: nor reserved concurrency limits it (AWS starts SQS pollers at five).
    default_sqs_concurrency: int = 5
    #: Longest real wait (s) for visibility timeouts, retry back-off and batching windows when
    #: polling in the background; drain() skips them entirely.
    time_cap: float = 1.0
    #: Background polling period (s).
    poll_interval: float = 0.05
    #: Invocations kept in the journal (None: all; a server keeps the latest 10,000).
    journal_limit: int | None = None


@dataclass(order=True)
class AsyncTask:
    """One queued asynchronous invocation (Event invoke, SNS, S3, EventBridge, destinations)."""

    due: float
    seq: int
    function_ref: str = field(compare=False)
    event: Any = field(compare=False)
    source: str = field(compare=False)
    request_id: str = field(compare=False, default_factory=lambda: str(uuid.uuid4()))
    attempts: int = field(compare=False, default=0)
    created: float = field(compare=False, default_factory=time.time)
    #: Called once when the event is given up (retries exhausted, too old, function missing).
    on_give_up: Callable[[InvokeOutcome | None, str], None] | None = field(compare=False, default=None)


class Engine:
    """Owns the worker pool, the async queue and the pollers; see the module docstring."""

    def __init__(self, core: CloudCore, settings: Settings, *, background: bool) -> None:
        from .pollers import PollerSet

        self.core = core
        self.settings = settings
        self.background = background
        self._executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="local-lambda")
        self._futures: dict[Future[None], str] = {}
        self._futures_lock = threading.Lock()
        self._tasks: list[AsyncTask] = []
        self._tasks_lock = threading.Lock()
        self._starting: dict[str, int] = {}
        self._seq = itertools.count()
        self._poll_lock = threading.RLock()
        self._draining = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.pollers = PollerSet(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self.background and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="local-cloud-poller", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a server keeps polling; the error is kept for errors/drain()
                self.errors.append(traceback.format_exc())
            self._stop.wait(self.settings.poll_interval)

    @property
    def fast(self) -> bool:
        """Whether clocks are fast-forwarded (always in tests, while draining in a server)."""
        return not self.background or self._draining > 0

    def delay(self, seconds: float) -> float:
        """How long to really wait for an AWS wait of ``seconds``."""
        return 0.0 if self.fast else min(max(seconds, 0.0), self.settings.time_cap)

    # -- work ------------------------------------------------------------------------------------

    def submit(self, work: Callable[[], None], description: str) -> None:
        def run() -> None:
            try:
                work()
            except Exception:  # surfaced by drain(), never swallowed
                self.errors.append(f"{description}:\n{traceback.format_exc()}")

        future = self._executor.submit(run)
        with self._futures_lock:
            self._futures[future] = description
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._futures_lock:
            self._futures.pop(future, None)

    def inflight(self) -> list[str]:
        with self._futures_lock:
            return list(self._futures.values())

    # -- asynchronous invocations ----------------------------------------------------------------

    def invoke_async(
        self,
        function_ref: str,
        event: Any,
        *,
        source: str,
        on_give_up: Callable[[InvokeOutcome | None, str], None] | None = None,
    ) -> str:
        """Queue an asynchronous invocation, the way Lambda's internal queue accepts one."""
        task = AsyncTask(
            due=time.time(),
            seq=next(self._seq),
            function_ref=function_ref,
            event=event,
            source=source,
            on_give_up=on_give_up,
        )
        with self._tasks_lock:
            heapq.heappush(self._tasks, task)
        return task.request_id

    def _requeue(self, task: AsyncTask, wait_s: float) -> None:
        with self._tasks_lock:
            self._requeue_locked(task, wait_s)

    def _requeue_locked(self, task: AsyncTask, wait_s: float) -> None:
        task.due = time.time() + self.delay(wait_s)
        task.seq = next(self._seq)
        heapq.heappush(self._tasks, task)

    def _dispatch_async(self) -> bool:
        now = time.time()
        ready: list[AsyncTask] = []
        with self._tasks_lock:
            while self._tasks and (self.fast or self._tasks[0].due <= now):
                ready.append(heapq.heappop(self._tasks))
        dispatched = False
        for task in ready:
            spec = self.core.function_spec(task.function_ref)
            if spec is None:
                self._give_up(task, None, None, "ResourceNotFound")
                continue
            if spec.reserved_concurrency == 0:
                # Throttled for good: AWS retries until the event is too old, then gives up.
                self._give_up(task, spec, None, "EventAgeExceeded")
                continue
            if spec.reserved_concurrency is not None:
                # Count tasks submitted but not started yet, or they would all pass this check.
                with self._tasks_lock:
                    busy = self.core.runtime.inflight(spec.name) + self._starting.get(spec.name, 0)
                    if busy >= spec.reserved_concurrency:
                        self._requeue_locked(task, 0.05)
                        continue
                    self._starting[spec.name] = self._starting.get(spec.name, 0) + 1
            dispatched = True
            self.submit(lambda t=task, s=spec: self._run_async(t, s), f"async {spec.name} ({task.source})")
        return dispatched

    def _run_async(self, task: AsyncTask, spec: FunctionSpec) -> None:
        if spec.reserved_concurrency is not None:
            with self._tasks_lock:
                self._starting[spec.name] -= 1
        try:
            outcome = self.core.runtime.invoke(spec, task.event, source=task.source, request_id=task.request_id)
        except FunctionThrottled:
            self._requeue(task, 1.0)
            return
        task.attempts += 1
        config = self.core.event_invoke_config(spec.name)
        if outcome.ok:
            destination = ((config.get("DestinationConfig") or {}).get("OnSuccess") or {}).get("Destination")
            if destination:
                self.core.deliver(destination, self._destination_record(task, spec, outcome, "Success"))
            return
        max_retries = int(config.get("MaximumRetryAttempts", 2))
        max_age = float(config.get("MaximumEventAgeInSeconds", 21600))
        too_old = time.time() - task.created > max_age
        if task.attempts <= max_retries and not too_old:
            # AWS waits about a minute, then two, between attempts.
            self._requeue(task, 60.0 * task.attempts)
            return
        self._give_up(task, spec, outcome, "EventAgeExceeded" if too_old else "RetriesExhausted")

    def _give_up(
        self, task: AsyncTask, spec: FunctionSpec | None, outcome: InvokeOutcome | None, condition: str
    ) -> None:
        if spec is not None:
            config = self.core.event_invoke_config(spec.name)
            destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            if destination:
                self.core.deliver(destination, self._destination_record(task, spec, outcome, condition))
            dead_letter = self.core.dead_letter_target(spec.name)
            if dead_letter:
                error = (outcome.error or {}) if outcome else {}
                self.core.deliver(
                    dead_letter,
                    task.event,
                    attributes={
                        "RequestID": {"DataType": "String", "StringValue": task.request_id},
                        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                        "ErrorMessage": {
                            "DataType": "String",
                            "StringValue": str(error.get("errorMessage") or condition)[:1024],
                        },
                    },
                )
        if task.on_give_up is not None:
            task.on_give_up(outcome, condition)

    @staticmethod
    def _destination_record(
        task: AsyncTask, spec: FunctionSpec, outcome: InvokeOutcome | None, condition: str
    ) -> dict[str, Any]:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if outcome is not None and outcome.error is not None:
            response["functionError"] = "Unhandled"
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": iso_now(),
            "requestContext": {
                "requestId": task.request_id,
                "functionArn": f"{spec.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": task.attempts,
            },
            "requestPayload": task.event,
            "responseContext": response,
        }
        if outcome is not None:
            record["responsePayload"] = outcome.error if outcome.error is not None else outcome.result
        return record

    def pending_async(self) -> list[str]:
        with self._tasks_lock:
            return [f"async invoke of {t.function_ref} ({t.source}, attempt {t.attempts + 1})" for t in self._tasks]

    # -- polling and draining --------------------------------------------------------------------

    def poll_once(self) -> bool:
        """Dispatch all work that is ready now; True if anything was started."""
        with self._poll_lock:
            dispatched = self._dispatch_async()
            dispatched = self.pollers.poll() or dispatched
            return dispatched

    def pending(self) -> list[str]:
        """Human-readable list of what is still going on (for drain timeouts)."""
        return [
            *(f"running: {d}" for d in self.inflight()),
            *self.pending_async(),
            *self.pollers.pending(),
            *self.core.running_executions(),
        ]

    def drain(self, timeout: float) -> None:
        """Run everything until the cloud is quiet; raise DrainTimeout naming what is left."""
        deadline = time.monotonic() + timeout
        errors_before = len(self.errors)
        self._draining += 1
        try:
            while True:
                if time.monotonic() > deadline:
                    raise DrainTimeout(timeout, self.pending())
                dispatched = self.poll_once()
                with self._futures_lock:
                    futures = list(self._futures)
                if futures:
                    wait(futures, timeout=0.05, return_when=FIRST_COMPLETED)
                    continue
                if dispatched:
                    continue
                with self._poll_lock:
                    if self.pollers.fast_forward():
                        continue
                if self.core.running_executions() or self.pending_async():
                    # Step Functions executions run on their own threads and may start more work.
                    time.sleep(0.01)
                    continue
                break
        finally:
            self._draining -= 1
        if len(self.errors) > errors_before:
            raise LocalCloudError("internal error while draining:\n" + "\n".join(self.errors[errors_before:]))


def iso_now(at: float | None = None) -> str:
    """AWS-style UTC timestamp with milliseconds."""
    at = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"
