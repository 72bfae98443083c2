"""Scheduling of everything that happens after a request returns: pollers, async invokes, drain.

AWS runs event source pollers and asynchronous invocations on its own schedule; a test needs the
opposite, a point where "everything that was going to happen has happened". The engine does both:
in a server it polls in a background thread in real time (long waits capped by
``Settings.time_cap``); in tests ``drain()`` polls in the calling thread, runs the work on a thread
pool (so concurrency limits are real) and fast-forwards the clocks that only make tests slow
(visibility timeouts, retry back-off, batching windows, tumbling windows) once nothing else is left.

Asynchronous work (Lambda's async queue, EventBridge delivery retries) is kept on a virtual clock:
a failed async invocation is due again 60 s, then 120 s after its attempt ended, as on AWS.
``drain()`` runs everything that is due, and only when nothing else is runnable moves the virtual
clock forward to the next due work. So a retry never starts before the attempt before it ended,
and starts after the work that was already queued, yet no test waits for minutes.
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

from ..errors import DrainTimeout, LocalCloudError
from ..runtime import FunctionSpec, FunctionThrottled, InvokeOutcome
from .clock import iso_now

if TYPE_CHECKING:
    from ..core import CloudCore


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
    #: Published layers the local cloud cannot host whose imports the venv provides instead, as
    #: ``<account>:layer:<name>`` (any region and version). The public Powertools layers always are;
    #: any other layer the local cloud does not host fails the invocation's init, naming it.
    layer_stand_ins: tuple[str, ...] = ()


@dataclass
class AsyncTask:
    """One queued asynchronous invocation (Event invoke, SNS, S3, EventBridge, destinations).

    Times are on the engine's virtual clock (``Engine.clock()``).
    """

    function_ref: str
    event: Any
    source: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    #: Times Lambda found no concurrency for it (reserved concurrency 0): retried until too old.
    throttles: int = 0
    created: float = 0.0
    #: What the last attempt produced (for the record sent when the event is given up).
    last_outcome: InvokeOutcome | None = None
    #: Called once when the event is given up (retries exhausted, too old, function missing).
    on_give_up: Callable[[InvokeOutcome | None, str], None] | None = None


@dataclass
class Timer:
    """Work due at a point of the virtual clock (a delivery retry of EventBridge, ...)."""

    action: Callable[[], None]
    description: str
    #: A cancelled timer never runs and never moves the clock (a task that finished before its timeout).
    cancelled: bool = False


class Engine:
    """Owns the worker pool, the async queue and the pollers; see the module docstring."""

    def __init__(self, core: CloudCore, settings: Settings, *, background: bool) -> None:
        from .firehose import FirehoseDelivery
        from .pollers import PollerSet
        from .ttl import TtlSweeper

        self.core = core
        self.settings = settings
        self.background = background
        self._executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="local-lambda")
        self._futures: dict[Future[None], str] = {}
        self._futures_lock = threading.Lock()
        #: The queue of asynchronous work: (due on the virtual clock, sequence, task or timer).
        self._tasks: list[tuple[float, int, AsyncTask | Timer]] = []
        self._tasks_lock = threading.Lock()
        #: How far the virtual clock is ahead of the wall clock (drain() moves it forward).
        self._skew = 0.0
        self._starting: dict[str, int] = {}
        self._seq = itertools.count()
        self._poll_lock = threading.RLock()
        self._draining = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.pollers = PollerSet(self)
        self.ttl = TtlSweeper(self)
        self.firehose = FirehoseDelivery(self)

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

    @property
    def skew(self) -> float:
        """How far the virtual clock is ahead of the wall clock (seconds)."""
        return self._skew

    def clock(self) -> float:
        """The virtual clock of asynchronous work: the wall clock plus every skip drain() made."""
        return time.time() + self._skew

    def advance(self, seconds: float) -> None:
        """Move the virtual clock ``seconds`` forward: timers and TTL expiries due by then run at the
        next poll (or drain())."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward (given {seconds} s)")
        self._skew += seconds
        self.ttl.sweep(force=True)

    def advance_to(self, virtual_time: float) -> None:
        """Move the virtual clock forward to ``virtual_time`` if it is behind (never backwards): work
        that AWS would start at that time (a redelivery after a skipped visibility timeout) sees it."""
        with self._tasks_lock:
            gap = virtual_time - self.clock()
            if gap > 0:
                self._skew += gap

    def _due_in(self, seconds: float) -> float:
        """When work AWS would start ``seconds`` from now is due on the virtual clock.

        While fast (tests, drain) the full wait counts: drain() skips it once nothing else is
        runnable, so waiting work comes after everything already queued. A server that is not
        draining waits for real, at most ``Settings.time_cap``.
        """
        seconds = max(seconds, 0.0)
        return self.clock() + (seconds if self.fast else min(seconds, self.settings.time_cap))

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
        request_id: str | None = None,
    ) -> str:
        """Queue an asynchronous invocation, the way Lambda's internal queue accepts one.

        Returns the request id the invocation will run with (the Invoke API's RequestId).
        """
        task = AsyncTask(
            function_ref=function_ref,
            event=event,
            source=source,
            on_give_up=on_give_up,
            created=self.clock(),
        )
        if request_id:
            task.request_id = request_id
        with self._tasks_lock:
            heapq.heappush(self._tasks, (self.clock(), next(self._seq), task))
        return task.request_id

    def schedule(
        self, seconds: float, action: Callable[[], None], description: str, *, deadline: bool = False
    ) -> Timer:
        """Run ``action`` once ``seconds`` of AWS time have passed (virtual time while draining).

        A ``deadline`` (a timeout: it fires only if the work it guards has not finished) is never
        shortened by ``Settings.time_cap``: a server that is not draining must not time out an
        execution after one real second. While draining it is skipped to like any other wait.
        """
        timer = Timer(action, description)
        due = self.clock() + max(seconds, 0.0) if deadline else self._due_in(seconds)
        with self._tasks_lock:
            heapq.heappush(self._tasks, (due, next(self._seq), timer))
        return timer

    def _requeue(self, task: AsyncTask, wait_s: float) -> None:
        with self._tasks_lock:
            self._requeue_locked(task, wait_s)

    def _requeue_locked(self, task: AsyncTask, wait_s: float) -> None:
        heapq.heappush(self._tasks, (self._due_in(wait_s), next(self._seq), task))

    def _dispatch_async(self) -> bool:
        now = self.clock()
        ready: list[AsyncTask | Timer] = []
        with self._tasks_lock:
            while self._tasks and self._tasks[0][0] <= now:
                ready.append(heapq.heappop(self._tasks)[2])
        dispatched = False
        for item in ready:
            if isinstance(item, Timer):
                if item.cancelled:
                    continue
                dispatched = True
                try:
                    item.action()
                except Exception:  # surfaced by drain(), never swallowed
                    self.errors.append(f"{item.description}:\n{traceback.format_exc()}")
                continue
            task = item
            spec = self.core.function_spec(task.function_ref)
            if spec is None:
                self._give_up(task, None, None, "ResourceNotFound")
                continue
            config = self.core.event_invoke_config(spec.name)
            max_age = float(config.get("MaximumEventAgeInSeconds", 21600))
            if now - task.created > max_age:
                self._give_up(task, spec, task.last_outcome, "EventAgeExceeded")
                continue
            if spec.reserved_concurrency == 0:
                # Throttled: Lambda retries with a back-off growing from 1 s to 5 min until the event is too old.
                task.throttles += 1
                left = task.created + max_age - now
                self._requeue(task, min(2.0 ** (task.throttles - 1), 300.0, left + 0.001))
                continue
            if spec.reserved_concurrency is not None:
                # Count tasks submitted but not started yet, or they would all pass this check.
                with self._tasks_lock:
                    busy = self.core.runtime.inflight(spec.name) + self._starting.get(spec.name, 0)
                    if busy >= spec.reserved_concurrency:
                        self._requeue_locked(task, 0.05)  # waits for a free slot, after work queued before it
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
        task.last_outcome = outcome
        config = self.core.event_invoke_config(spec.name)
        if outcome.ok:
            destination = ((config.get("DestinationConfig") or {}).get("OnSuccess") or {}).get("Destination")
            if destination:
                self.core.deliver(destination, self._destination_record(task, spec, outcome, "Success"))
            return
        max_retries = int(config.get("MaximumRetryAttempts", 2))
        if task.attempts <= max_retries:
            # AWS waits about a minute, then two, between attempts; the event may get too old meanwhile.
            self._requeue(task, 60.0 * task.attempts)
            return
        self._give_up(task, spec, outcome, "RetriesExhausted")

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
            items = [
                item
                for _, _, item in sorted(self._tasks, key=lambda entry: entry[:2])
                if not (isinstance(item, Timer) and item.cancelled)
            ]
        return [
            item.description
            if isinstance(item, Timer)
            else f"async invoke of {item.function_ref} ({item.source}, attempt {item.attempts + 1})"
            for item in items
        ]

    def _skip_to_next_due(self) -> bool:
        """Move the virtual clock to the earliest queued work, if it is in the future; True if moved."""
        with self._tasks_lock:
            while self._tasks and isinstance(self._tasks[0][2], Timer) and self._tasks[0][2].cancelled:
                heapq.heappop(self._tasks)
            if not self._tasks:
                return False
            gap = self._tasks[0][0] - self.clock()
            if gap > 0:
                self._skew += gap
            return True

    # -- polling and draining --------------------------------------------------------------------

    def poll_once(self) -> bool:
        """Dispatch all work that is ready now; True if anything was started."""
        with self._poll_lock:
            dispatched = self._dispatch_async()
            dispatched = self.ttl.sweep() or dispatched
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
        """Run everything until the cloud is quiet; raise DrainTimeout naming what is left.

        Order: work that is ready runs first (on the worker pool); when nothing is running or
        ready, SQS visibility timeouts are skipped; then the virtual clock jumps to the next
        queued asynchronous work (retries, back-offs), so a retry starts only after everything
        that was queued before it, as AWS's minutes of back-off would have it.
        """
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
                    # A background poll may have started batches since the check above.
                    with self._futures_lock:
                        started = bool(self._futures)
                    if started or self.pollers.fast_forward():
                        continue
                if self.core.runtime.busy():
                    # A handler runs outside the pool (a synchronous invoke, a state machine's task).
                    time.sleep(0.01)
                    continue
                if self.core.executions_busy():
                    # A state machine is between states: let it queue its next wait before time moves.
                    time.sleep(0.002)
                    continue
                if self._skip_to_next_due():
                    continue
                if self.core.running_executions():
                    # Step Functions executions run on their own threads and may start more work.
                    time.sleep(0.01)
                    continue
                break
        finally:
            self._draining -= 1
        if len(self.errors) > errors_before:
            raise LocalCloudError("internal error while draining:\n" + "\n".join(self.errors[errors_before:]))
