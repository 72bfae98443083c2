"""The Amazon States Language interpreter: states, input/output processing, Retry and Catch.

One execution runs on its own thread; Parallel branches and Map iterations on threads of their
own. Every wait (Wait states, Retry back-off, task and execution timeouts) is on the local cloud's
virtual clock through ``Clock``: the thread blocks on a timer of the engine, so ``drain()``
fast-forwards it once nothing else can run, and a saga with minutes of back-off finishes in
milliseconds having waited the right virtual time. History events follow GetExecutionHistory's
shapes, so a test reads which states ran and how many attempts each task took.
"""

from __future__ import annotations

import datetime
import json
import random
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from . import paths, templates
from .errors import ExecutionStopped, StatesError

if TYPE_CHECKING:
    from .integrations import Integrations

#: Errors no Retry or Catch matches (AWS: "States.Runtime ... isn't retriable").
_UNCATCHABLE = frozenset({"States.Runtime", "States.DataLimitExceeded"})
_TASK_DEFAULT_TIMEOUT = 99999999.0


class Clock:
    """Virtual time for one local cloud: ``now()`` and blocking waits on the engine's timers."""

    def __init__(self, now: Callable[[], float], schedule: Callable[..., Any]) -> None:
        self.now = now
        self._schedule = schedule
        self._lock = threading.Lock()
        #: Threads of executions that are running (not blocked on the clock, a child or a branch).
        self.active = 0
        #: What each blocked thread waits for: drain() may move time only while every one is still false.
        self._waiting: dict[int, tuple[Callable[[], bool], Callable[[], bool]]] = {}

    def enter(self) -> None:
        with self._lock:
            self.active += 1

    def leave(self) -> None:
        with self._lock:
            self.active -= 1

    def busy(self) -> bool:
        """Whether an execution thread runs, or is about to (its wait is over but it has not noticed yet)."""
        with self._lock:
            if self.active > 0:
                return True
            waiting = list(self._waiting.values())
        return any(done() or stopped() for done, stopped in waiting)

    def timer(self, seconds: float, description: str, *, deadline: bool = False) -> Alarm:
        """An alarm that goes off once ``seconds`` of virtual time have passed (cancel it when moot);
        a ``deadline`` (TimeoutSeconds, HeartbeatSeconds) is never shortened in a server (engine.schedule)."""
        alarm = Alarm()
        alarm.timer = self._schedule(seconds, alarm.fired.set, description, deadline=deadline)
        return alarm

    def wait_for(self, done: Callable[[], bool], stopped: Callable[[], bool]) -> None:
        """Block until ``done()``; raise ExecutionStopped if the execution ends meanwhile."""
        key = threading.get_ident()
        with self._lock:
            self.active -= 1
            self._waiting[key] = (done, stopped)
        try:
            while not done():
                if stopped():
                    raise ExecutionStopped()
                time.sleep(0.002)
        finally:
            with self._lock:
                self._waiting.pop(key, None)
                self.active += 1

    def sleep(self, seconds: float, description: str, stopped: Callable[[], bool]) -> None:
        if seconds <= 0:
            return
        alarm = self.timer(seconds, description)
        try:
            self.wait_for(alarm.is_set, stopped)
        finally:
            alarm.cancel()


class Alarm:
    """A virtual-clock timer of the engine; a cancelled one neither fires nor moves the clock."""

    def __init__(self) -> None:
        self.fired = threading.Event()
        self.timer: Any = None

    def is_set(self) -> bool:
        return self.fired.is_set()

    def cancel(self) -> None:
        if self.timer is not None and not self.fired.is_set():
            self.timer.cancelled = True


def iso(at: float) -> str:
    """ISO-8601 UTC with milliseconds, the format of the context object's times."""
    moment = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp (``Z`` or offset, optional fraction)."""
    if not isinstance(text, str) or not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", text
    ):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class History:
    """The event list of one execution, in GetExecutionHistory's shape (thread-safe: branches append)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, event_type: str, details_key: str | None = None, details: dict[str, Any] | None = None) -> int:
        with self._lock:
            event_id = len(self.events) + 1
            event: dict[str, Any] = {
                "timestamp": datetime.datetime.fromtimestamp(self.clock.now(), tz=datetime.UTC),
                "type": event_type,
                "id": event_id,
                "previousEventId": event_id - 1,
            }
            if details_key is not None:
                event[details_key] = details or {}
            self.events.append(event)
            return event_id


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def error_matches(names: list[str], error: str) -> bool:
    """Whether a Retrier's or Catcher's ErrorEquals matches ``error`` (States.ALL / States.TaskFailed wildcards)."""
    if error in _UNCATCHABLE:
        return False
    for name in names:
        if name == error or name == "States.ALL":
            return True
        if name == "States.TaskFailed" and error != "States.Timeout":
            return True
    return False


class Run:
    """Everything one execution shares across its branches: identity, clock, history, stop flag."""

    def __init__(
        self,
        *,
        clock: Clock,
        integrations: Integrations,
        context: dict[str, Any],
        history: History,
        spawn: Callable[[Callable[[], None], str], None],
    ) -> None:
        self.clock = clock
        self.integrations = integrations
        self.context = context
        self.history = history
        self.spawn = spawn
        self.stop_reason: tuple[str, str, str] | None = None  # (status, error, cause)

        self.parent: Run | None = None

    def child(self) -> Run:
        """A Run for a group of branches: stopping it (a sibling failed) leaves the execution running."""
        run = Run(
            clock=self.clock,
            integrations=self.integrations,
            context=self.context,
            history=self.history,
            spawn=self.spawn,
        )
        run.parent = self
        return run

    def stopped(self) -> bool:
        return self.stop_reason is not None or (self.parent is not None and self.parent.stopped())

    def check(self) -> None:
        if self.stopped():
            raise ExecutionStopped()


class Interpreter:
    """Runs one state list (a machine, a Parallel branch, a Map item processor) to its end."""

    def __init__(self, run: Run, definition: dict[str, Any]) -> None:
        self.run = run
        self.definition = definition
        self.states: dict[str, dict[str, Any]] = definition["States"]

    def execute(self, value: Any, context_extra: dict[str, Any] | None = None) -> Any:
        name: str | None = self.definition["StartAt"]
        context = {**self.run.context, **(context_extra or {})}
        while name is not None:
            self.run.check()
            state = self.states[name]
            value, name = self._state(name, state, value, context)
        return value

    # -- one state -------------------------------------------------------------------------------

    def _state(self, name: str, state: dict[str, Any], raw: Any, context: dict[str, Any]) -> tuple[Any, str | None]:
        kind = state["Type"]
        history = self.run.history
        history.add(
            f"{kind}StateEntered",
            "stateEnteredEventDetails",
            {"name": name, "input": _dumps(raw), "inputDetails": {"truncated": False}},
        )
        context = {**context, "State": {"Name": name, "EnteredTime": iso(self.run.clock.now()), "RetryCount": 0}}
        caught = None
        try:
            output, next_name = self._run_state(name, kind, state, raw, context)
        except StatesError as failure:
            caught = self._catch(state, failure, raw)
            if caught is None:
                raise
            output, next_name = caught
        history.add(
            f"{kind}StateExited",
            "stateExitedEventDetails",
            {"name": name, "output": _dumps(output), "outputDetails": {"truncated": False}},
        )
        if caught is None and (kind == "Succeed" or state.get("End")):
            return output, None
        return output, next_name

    def _catch(self, state: dict[str, Any], failure: StatesError, raw: Any) -> tuple[Any, str] | None:
        for catcher in state.get("Catch") or []:
            if error_matches(catcher.get("ErrorEquals") or [], failure.error):
                output = paths.write(
                    raw, catcher.get("ResultPath", "$"), {"Error": failure.error, "Cause": failure.cause}
                )
                return output, catcher["Next"]
        return None

    def _run_state(
        self, name: str, kind: str, state: dict[str, Any], raw: Any, context: dict[str, Any]
    ) -> tuple[Any, str | None]:
        next_name = state.get("Next")
        if kind == "Choice":
            value = paths.select(raw, state.get("InputPath", "$"), context)
            chosen = next(
                (rule["Next"] for rule in state.get("Choices") or [] if _rule(rule, value, context)),
                state.get("Default"),
            )
            if chosen is None:
                raise StatesError("States.NoChoiceMatched", f"No Choice rule matched and no Default in state '{name}'")
            return paths.select(value, state.get("OutputPath", "$"), context), chosen
        if kind == "Succeed":
            value = paths.select(raw, state.get("InputPath", "$"), context)
            return paths.select(value, state.get("OutputPath", "$"), context), None
        if kind == "Fail":
            error = state.get("Error") or (paths.read(raw, state["ErrorPath"], context) if "ErrorPath" in state else "")
            cause = state.get("Cause") or (paths.read(raw, state["CausePath"], context) if "CausePath" in state else "")
            raise _Failed(str(error), str(cause))
        if kind == "Wait":
            value = paths.select(raw, state.get("InputPath", "$"), context)
            self._wait(name, state, value, context)
            return paths.select(value, state.get("OutputPath", "$"), context), next_name
        if kind == "Pass":
            value = paths.select(raw, state.get("InputPath", "$"), context)
            if "Parameters" in state:
                value = templates.render(state["Parameters"], value, context)
            result = state.get("Result", value)
            output = paths.write(raw, state.get("ResultPath", "$"), result)
            return paths.select(output, state.get("OutputPath", "$"), context), next_name
        if kind in ("Task", "Parallel", "Map"):
            value = paths.select(raw, state.get("InputPath", "$"), context)
            result = self._with_retries(name, kind, state, value, context)
            if "ResultSelector" in state:
                result = templates.render(state["ResultSelector"], result, context)
            output = paths.write(raw, state.get("ResultPath", "$"), result)
            return paths.select(output, state.get("OutputPath", "$"), context), next_name
        raise StatesError("States.Runtime", f"Unsupported state type {kind!r} in state '{name}'")

    # -- Wait --------------------------------------------------------------------------------------

    def _wait(self, name: str, state: dict[str, Any], value: Any, context: dict[str, Any]) -> None:
        now = self.run.clock.now()
        if "Seconds" in state:
            seconds = float(state["Seconds"])
        elif "SecondsPath" in state:
            seconds_value = paths.read(value, state["SecondsPath"], context)
            if not isinstance(seconds_value, (int, float)) or isinstance(seconds_value, bool) or seconds_value < 0:
                raise StatesError("States.Runtime", f"SecondsPath of '{name}' must be a non-negative number")
            seconds = float(seconds_value)
        else:
            text = state.get("Timestamp") or paths.read(value, state["TimestampPath"], context)
            at = parse_timestamp(text)
            if at is None:
                raise StatesError("States.Runtime", f"Timestamp of '{name}' is not an RFC 3339 timestamp: {text!r}")
            seconds = at - now
        self.run.clock.sleep(seconds, f"Wait state {name} of {self.run.context['Execution']['Id']}", self.run.stopped)

    # -- Task, Parallel, Map with Retry ------------------------------------------------------------

    def _with_retries(self, name: str, kind: str, state: dict[str, Any], value: Any, context: dict[str, Any]) -> Any:
        attempts: dict[int, int] = {}
        while True:
            self.run.check()
            try:
                if kind == "Task":
                    return self._task(name, state, value, context)
                if kind == "Parallel":
                    return self._parallel(name, state, value, context)
                return self._map(name, state, value, context)
            except StatesError as failure:
                delay = self._retry_delay(state, failure, attempts)
                if delay is None:
                    raise
                context = {**context, "State": {**context["State"], "RetryCount": sum(attempts.values())}}
                self.run.clock.sleep(delay, f"Retry back-off of state {name}", self.run.stopped)

    @staticmethod
    def _retry_delay(state: dict[str, Any], failure: StatesError, attempts: dict[int, int]) -> float | None:
        for index, retrier in enumerate(state.get("Retry") or []):
            if not error_matches(retrier.get("ErrorEquals") or [], failure.error):
                continue
            done = attempts.get(index, 0)
            if done >= int(retrier.get("MaxAttempts", 3)):
                return None
            attempts[index] = done + 1
            delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** done
            if "MaxDelaySeconds" in retrier:
                delay = min(delay, float(retrier["MaxDelaySeconds"]))
            if retrier.get("JitterStrategy") == "FULL":
                delay = random.uniform(0, delay)
            return delay
        return None

    def _timeout(self, state: dict[str, Any], value: Any, context: dict[str, Any], key: str) -> float | None:
        if key in state:
            return float(state[key])
        if f"{key}Path" in state:
            seconds = paths.read(value, state[f"{key}Path"], context)
            if not isinstance(seconds, (int, float)) or seconds <= 0:
                raise StatesError("States.Runtime", f"{key}Path must select a positive number")
            return float(seconds)
        return None

    def _task(self, name: str, state: dict[str, Any], value: Any, context: dict[str, Any]) -> Any:
        resource = state["Resource"]
        token = None
        if resource.endswith(".waitForTaskToken"):
            token = self.run.integrations.service.new_callback()
            context = {**context, "Task": {"Token": token}}
        parameters = templates.render(state["Parameters"], value, context) if "Parameters" in state else value
        timeout = self._timeout(state, value, context, "TimeoutSeconds")
        heartbeat = self._timeout(state, value, context, "HeartbeatSeconds")
        call = self.run.integrations.prepare(
            resource, parameters, self.run, name, timeout or _TASK_DEFAULT_TIMEOUT, heartbeat, token
        )
        call.scheduled()
        outcome: Future[Any] = Future()

        def work() -> None:
            try:
                outcome.set_result(call.invoke())
            except BaseException as exc:  # the task's failure travels to the waiting state
                outcome.set_exception(exc)

        self.run.spawn(work, f"task {name}")
        deadline = self.run.clock.timer(timeout, f"TimeoutSeconds of task {name}", deadline=True) if timeout else None
        beat = call.heartbeat
        try:
            self.run.clock.wait_for(
                lambda: (
                    outcome.done()
                    or (deadline is not None and deadline.is_set())
                    or (beat is not None and beat.expired())
                ),
                self.run.stopped,
            )
        finally:
            if deadline is not None:
                deadline.cancel()
            if beat is not None:
                beat.cancel()
        if not outcome.done():
            call.cancel()
            timed_out = "States.Timeout" if deadline is not None and deadline.is_set() else "States.HeartbeatTimeout"
            limit = "TimeoutSeconds" if timed_out == "States.Timeout" else "HeartbeatSeconds"
            cause = f"Task '{name}' did not finish within its {limit}"
            call.failed(timed_out, cause)
            raise StatesError(timed_out, cause)
        try:
            result = outcome.result()
        except StatesError as failure:
            call.failed(failure.error, failure.cause)
            raise
        call.succeeded(result)
        return result

    def _branches(self, name: str, jobs: list[tuple[dict[str, Any], Any, dict[str, Any]]], limit: int) -> list[Any]:
        """Run state lists concurrently (at most ``limit`` at a time, 0 = all); the first failure stops the rest."""
        results: list[Any] = [None] * len(jobs)
        failures: list[BaseException] = []
        lock = threading.Lock()
        counts = {"started": 0, "done": 0}
        branch_run = self.run.child()

        def start(index: int) -> None:
            definition, item, extra = jobs[index]

            def work() -> None:
                try:
                    results[index] = Interpreter(branch_run, definition).execute(item, extra)
                except BaseException as exc:  # collected and re-raised by the parent state
                    with lock:
                        failures.append(exc)
                    branch_run.stop_reason = ("FAILED", "", "")
                finally:
                    with lock:
                        counts["done"] += 1

            self.run.spawn(work, f"branch {index} of {name}")

        while True:
            with lock:
                while (
                    counts["started"] < len(jobs)
                    and not failures
                    and (limit <= 0 or counts["started"] - counts["done"] < limit)
                ):
                    counts["started"] += 1
                    start(counts["started"] - 1)
                if counts["done"] == counts["started"] and (counts["started"] == len(jobs) or failures):
                    break
                seen = counts["done"]
            self.run.clock.wait_for(lambda seen=seen: counts["done"] != seen, lambda: False)
        self.run.check()
        real = [f for f in failures if not isinstance(f, ExecutionStopped)]
        if real:
            raise real[0]
        if failures:
            raise failures[0]
        return results

    def _parallel(self, name: str, state: dict[str, Any], value: Any, context: dict[str, Any]) -> Any:
        value = templates.render(state["Parameters"], value, context) if "Parameters" in state else value
        history = self.run.history
        history.add("ParallelStateStarted")
        try:
            results = self._branches(name, [(branch, value, {}) for branch in state["Branches"]], 0)
        except StatesError:
            history.add("ParallelStateFailed")
            raise
        history.add("ParallelStateSucceeded")
        return results

    def _map(self, name: str, state: dict[str, Any], value: Any, context: dict[str, Any]) -> Any:
        items = paths.read(value, state.get("ItemsPath", "$"), context)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"ItemsPath of Map state '{name}' must select an array")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        selector = state.get("ItemSelector", state.get("Parameters"))
        jobs = []
        for index, item in enumerate(items):
            map_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
            item_input = templates.render(selector, value, map_context) if selector is not None else item
            jobs.append((processor, item_input, {"Map": map_context["Map"]}))
        history = self.run.history
        history.add("MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)})
        try:
            results = self._branches(name, jobs, int(state.get("MaxConcurrency", 0)))
        except StatesError:
            history.add("MapStateFailed")
            raise
        history.add("MapStateSucceeded")
        return results


class _Failed(StatesError):
    """A Fail state: not caught by its own (non-existent) Catch, it ends the execution."""


# -- Choice rules ------------------------------------------------------------------------------------

_COMPARATORS = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "String": lambda v: isinstance(v, str),
    "Numeric": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "Timestamp": lambda v: parse_timestamp(v) is not None,
}


def _rule(rule: dict[str, Any], value: Any, context: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(_rule(r, value, context) for r in rule["And"])
    if "Or" in rule:
        return any(_rule(r, value, context) for r in rule["Or"])
    if "Not" in rule:
        return not _rule(rule["Not"], value, context)
    variable = rule["Variable"]
    try:
        actual = paths.read(value, variable, context)
        present = True
    except StatesError:
        actual, present = None, False
    for key, expected in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key == "IsPresent":
            return present == expected
        if not present:
            raise StatesError(
                "States.Runtime", f"Invalid path '{variable}': the choice state's input has no such field"
            )
        if key == "IsNull":
            return (actual is None) == expected
        if key.startswith("Is") and key[2:] in _TYPES:
            return _TYPES[key[2:]](actual) == expected
        if key == "StringMatches":
            return isinstance(actual, str) and _string_matches(actual, expected)
        if key.endswith("Path"):
            expected = paths.read(value, expected, context)
            key = key[: -len("Path")]
        for kind, check in _TYPES.items():
            if key.startswith(kind) and key[len(kind) :] in _COMPARATORS:
                if not check(actual) or not check(expected):
                    return False
                if kind == "Timestamp":
                    actual_value: Any = parse_timestamp(actual)
                    expected_value: Any = parse_timestamp(expected)
                else:
                    actual_value, expected_value = actual, expected
                return bool(_COMPARATORS[key[len(kind) :]](actual_value, expected_value))
        raise StatesError("States.Runtime", f"Unsupported Choice comparison {key!r}")
    raise StatesError("States.Runtime", f"Choice rule on '{variable}' has no comparison")


def _string_matches(text: str, pattern: str) -> bool:
    """``*`` is a wildcard; ``\\*`` and ``\\\\`` are literal, as the ASL specification defines."""
    out = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\" and position + 1 < len(pattern):
            out.append(re.escape(pattern[position + 1]))
            position += 2
            continue
        out.append(".*" if char == "*" else re.escape(char))
        position += 1
    return re.fullmatch("".join(out), text, re.DOTALL) is not None
