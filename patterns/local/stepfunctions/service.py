"""Executions of the local cloud's state machines, in place of moto's interpreter.

moto keeps the state machines (create, describe, update, delete, tags); this module owns their
executions: StartExecution, StartSyncExecution (Express), DescribeExecution, ListExecutions,
GetExecutionHistory, StopExecution, DescribeStateMachineForExecution and the task-token callbacks
(SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat). Definitions are checked when a state
machine is created or updated: a state type, field or integration the interpreter cannot run is
refused then (so a deploy fails naming it), never discovered by an execution.

As on AWS: Standard execution names are unique per state machine (the same name and input while
running returns the running execution, anything else is ExecutionAlreadyExists); Express
executions have no history API (DescribeExecution, ListExecutions and GetExecutionHistory refuse
them) and report through StartSyncExecution's response and the state machine's log group.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ExecutionStopped, StatesError
from .integrations import Callback, Integrations, new_token
from .interpreter import Clock, History, Interpreter, Run, iso
from .validation import validate_definition

if TYPE_CHECKING:
    from ..core import CloudCore
    from ..core.hooks import Patcher

_FINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _utc(at: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(at, tz=datetime.UTC)


class Execution:
    """One execution; attribute names follow moto's Execution, which its response code reads."""

    def __init__(self, service: StepFunctionsService, machine: Any, name: str, input_text: str, express: bool) -> None:
        self.service = service
        self.machine = machine
        self.name = name
        self.execution_input = input_text
        self.express = express
        self.state_machine_arn: str = machine.arn
        arn_base = machine.arn.replace(":stateMachine:", ":express:" if express else ":execution:")
        self.execution_arn = f"{arn_base}:{name}:{uuid.uuid4()}" if express else f"{arn_base}:{name}"
        clock = service.clock
        self.start = clock.now()
        self.stop: float | None = None
        self.status = "RUNNING"
        self.output: str | None = None
        self.output_details = {"included": True}
        self.error: str | None = None
        self.cause: str | None = None
        self.done = threading.Event()
        self.history = History(clock)
        self._final_lock = threading.Lock()
        self._timeout: Any = None
        self.run = Run(
            clock=clock,
            integrations=service.integrations,
            context={
                "Execution": {
                    "Id": self.execution_arn,
                    "Input": json.loads(input_text),
                    "Name": name,
                    "RoleArn": machine.roleArn,
                    "StartTime": iso(self.start),
                    "RedriveCount": 0,
                },
                "StateMachine": {"Id": machine.arn, "Name": machine.name},
            },
            history=self.history,
            spawn=service.spawn,
        )

    @property
    def arn(self) -> str:
        return self.execution_arn

    @property
    def start_date(self) -> datetime.datetime:
        return _utc(self.start)

    @property
    def stop_date(self) -> datetime.datetime | None:
        return None if self.stop is None else _utc(self.stop)

    # -- running ---------------------------------------------------------------------------------

    def begin(self) -> None:
        definition = json.loads(self.machine.definition)
        self.history.add(
            "ExecutionStarted",
            "executionStartedEventDetails",
            {"input": self.execution_input, "inputDetails": {"truncated": False}, "roleArn": self.machine.roleArn},
        )
        if "TimeoutSeconds" in definition:
            seconds = float(definition["TimeoutSeconds"])
            self._timeout = self.service.core.engine.schedule(
                seconds,
                lambda: self.finish("TIMED_OUT", error="States.Timeout", cause="The execution timed out"),
                f"TimeoutSeconds of {self.execution_arn}",
                deadline=True,
            )
        self.service.spawn(lambda: self._main(definition), f"execution {self.execution_arn}")

    def _main(self, definition: dict[str, Any]) -> None:
        try:
            output = Interpreter(self.run, definition).execute(json.loads(self.execution_input))
        except ExecutionStopped:
            return
        except StatesError as failure:
            self.finish("FAILED", error=failure.error, cause=failure.cause)
            return
        except Exception as exc:  # an interpreter bug must fail the execution loudly, not hang it
            self.finish("FAILED", error="States.Runtime", cause=f"{type(exc).__name__}: {exc}")
            self.service.core.engine.errors.append(f"execution {self.execution_arn}:\n{traceback.format_exc()}")
            return
        self.finish("SUCCEEDED", output=json.dumps(output, separators=(",", ":")))

    def finish(
        self, status: str, *, output: str | None = None, error: str | None = None, cause: str | None = None
    ) -> bool:
        """Move to a final status once (the first of success, failure, timeout or stop wins)."""
        with self._final_lock:
            if self.status != "RUNNING":
                return False
            self.run.stop_reason = (status, error or "", cause or "")
            self.status = status
            self.output = output
            self.error = error
            self.cause = cause
            self.stop = self.service.clock.now()
            if status == "SUCCEEDED":
                self.history.add(
                    "ExecutionSucceeded",
                    "executionSucceededEventDetails",
                    {"output": output, "outputDetails": {"truncated": False}},
                )
            else:
                kind = {"FAILED": "Failed", "TIMED_OUT": "TimedOut", "ABORTED": "Aborted"}[status]
                details = {k: v for k, v in (("error", error), ("cause", cause)) if v}
                self.history.add(f"Execution{kind}", f"execution{kind}EventDetails", details)
        if self._timeout is not None:
            self._timeout.cancelled = True
        self.service.write_logs(self)
        self.done.set()
        return True

    # -- reading ---------------------------------------------------------------------------------

    def describe(self, *, json_output: bool = False) -> dict[str, Any]:
        """DescribeExecution's fields in the PascalCase a ``states:startExecution.sync`` task returns."""
        described: dict[str, Any] = {
            "ExecutionArn": self.execution_arn,
            "StateMachineArn": self.state_machine_arn,
            "Name": self.name,
            "Status": self.status,
            "StartDate": int(self.start * 1000),
            "Input": json.loads(self.execution_input) if json_output else self.execution_input,
            "InputDetails": {"Included": True},
        }
        if self.stop is not None:
            described["StopDate"] = int(self.stop * 1000)
        if self.output is not None:
            described["Output"] = json.loads(self.output) if json_output else self.output
            described["OutputDetails"] = {"Included": True}
        if self.error:
            described["Error"] = self.error
        if self.cause:
            described["Cause"] = self.cause
        return described

    def sync_response(self) -> dict[str, Any]:
        """StartSyncExecution's response."""
        response: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "startDate": self.start_date,
            "stopDate": self.stop_date,
            "status": self.status,
            "input": self.execution_input,
            "inputDetails": {"included": True},
            "billingDetails": {
                "billedMemoryUsedInMB": 64,
                "billedDurationInMilliseconds": max(100, int(((self.stop or self.start) - self.start) * 1000)),
            },
        }
        if self.output is not None:
            response["output"] = self.output
            response["outputDetails"] = {"included": True}
        if self.error:
            response["error"] = self.error
        if self.cause:
            response["cause"] = self.cause
        return response


class StepFunctionsService:
    """The execution side of Step Functions for one local cloud (see the module docstring)."""

    def __init__(self, core: CloudCore) -> None:
        self.core = core
        self.clock = Clock(core.engine.clock, core.engine.schedule)
        self.integrations = Integrations(core, self)
        self.executions: dict[str, Execution] = {}
        self._by_machine: dict[str, list[Execution]] = {}
        self._callbacks: dict[str, Callback] = {}
        self._lock = threading.RLock()

    # -- threads ---------------------------------------------------------------------------------

    def spawn(self, work: Callable[[], None], description: str) -> None:
        """Run execution work on a thread of its own, counted as active until it ends or blocks."""
        self.clock.enter()

        def body() -> None:
            try:
                work()
            except ExecutionStopped:
                pass
            except Exception:  # surfaced by drain(), never swallowed
                self.core.engine.errors.append(f"{description}:\n{traceback.format_exc()}")
            finally:
                self.clock.leave()

        threading.Thread(target=body, name=f"sfn {description}"[:60], daemon=True).start()

    def busy(self) -> bool:
        """Whether an execution thread is doing something other than waiting on the clock."""
        return self.clock.busy()

    def running(self) -> list[str]:
        with self._lock:
            return [
                f"state machine execution {e.execution_arn}" for e in self.executions.values() if e.status == "RUNNING"
            ]

    # -- executions ------------------------------------------------------------------------------

    def _machine(self, arn: str) -> Any:
        parts = arn.split(":")
        backend = self.core.sfn_backend(parts[4], parts[3])
        return backend.describe_state_machine(arn)

    def start(self, machine_arn: str, name: str | None, input_text: str | None, *, sync: bool = False) -> Execution:
        from moto.stepfunctions.exceptions import ExecutionAlreadyExists, InvalidExecutionInput, InvalidName

        with self.core.lock:
            machine = self._machine(machine_arn)
        express = machine.sm_type == "EXPRESS" or getattr(machine, "type", "") == "EXPRESS"
        if sync and not express:
            from moto.stepfunctions.exceptions import ValidationException

            raise ValidationException("StartSyncExecution is not supported by STANDARD state machines")
        text = "{}" if input_text is None else input_text
        try:
            json.loads(text)
        except ValueError as exc:
            raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from exc
        name = name or str(uuid.uuid4())
        if len(name) > 80 or not all(c.isalnum() or c in "-_" for c in name):
            raise InvalidName(f"Invalid Name: '{name}'")
        with self._lock:
            if not express:
                for existing in self._by_machine.get(machine.arn, []):
                    if existing.name == name:
                        if existing.execution_input == text and existing.status == "RUNNING":
                            return existing
                        raise ExecutionAlreadyExists(f"Execution Already Exists: '{existing.execution_arn}'")
            execution = Execution(self, machine, name, text, express)
            self.executions[execution.execution_arn] = execution
            self._by_machine.setdefault(machine.arn, []).append(execution)
        execution.begin()
        return execution

    def get(self, arn: str, *, api: str) -> Execution:
        from moto.stepfunctions.exceptions import ExecutionDoesNotExist, InvalidArn

        if ":express:" in arn:
            raise InvalidArn(f"Invalid Arn: '{arn}': {api} is not supported by EXPRESS state machines")
        with self._lock:
            execution = self.executions.get(arn)
        if execution is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return execution

    def list(self, machine_arn: str, status: str | None) -> list[Execution]:
        from moto.stepfunctions.exceptions import InvalidArn

        with self.core.lock:
            machine = self._machine(machine_arn)
        if machine.sm_type == "EXPRESS":
            raise InvalidArn(f"Invalid Arn: '{machine_arn}': ListExecutions is not supported by EXPRESS state machines")
        with self._lock:
            found = [e for e in self._by_machine.get(machine.arn, []) if status is None or e.status == status]
        return sorted(found, key=lambda e: e.start, reverse=True)

    def stop(self, arn: str, error: str | None, cause: str | None) -> Execution:
        with self._lock:
            execution = self.executions.get(arn)
        if execution is None:
            execution = self.get(arn, api="StopExecution")
        execution.finish("ABORTED", error=error, cause=cause)
        return execution

    # -- task tokens -----------------------------------------------------------------------------

    def new_callback(self) -> str:
        token = new_token()
        with self._lock:
            self._callbacks[token] = Callback()
        return token

    def callback(self, token: str) -> Callback:
        with self._lock:
            return self._callbacks[token]

    def forget_token(self, token: str) -> None:
        with self._lock:
            self._callbacks.pop(token, None)

    def answer(self, token: str, *, output: str | None = None, error: tuple[str, str] | None = None) -> None:
        from moto.stepfunctions.exceptions import InvalidToken

        with self._lock:
            callback = self._callbacks.pop(token, None)
        if callback is None:
            raise InvalidToken("Invalid token")
        if error is not None:
            callback.error = error
        else:
            try:
                callback.output = json.loads(output or "null")
            except ValueError as exc:
                with self._lock:
                    self._callbacks[token] = callback
                from moto.stepfunctions.exceptions import ValidationException

                raise ValidationException(f"Invalid output: {exc}") from exc
        callback.done.set()

    def heartbeat(self, token: str) -> None:
        from moto.stepfunctions.exceptions import InvalidToken

        with self._lock:
            callback = self._callbacks.get(token)
        if callback is None:
            raise InvalidToken("Invalid token")
        if callback.heartbeat is not None:
            callback.heartbeat.beat()

    # -- logs ------------------------------------------------------------------------------------

    def write_logs(self, execution: Execution) -> None:
        """Send the execution's events to the state machine's log group, at its logging level."""
        config = _logging_config(execution.machine.loggingConfiguration)
        level = config.get("level", "OFF")
        if level == "OFF" or not config.get("group"):
            return
        include_data = bool(config.get("includeExecutionData"))
        wanted: Callable[[str], bool] = {
            "ALL": lambda t: True,
            "ERROR": lambda t: t.endswith(("Failed", "TimedOut", "Aborted")),
            "FATAL": lambda t: t in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"),
        }.get(level, lambda t: False)
        lines = []
        for event in list(execution.history.events):
            if not wanted(event["type"]):
                continue
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            if not include_data:
                details = {
                    k: v
                    for k, v in details.items()
                    if k not in ("input", "output", "inputDetails", "outputDetails", "parameters")
                }
            lines.append(
                json.dumps(
                    {
                        "id": str(event["id"]),
                        "type": event["type"],
                        "details": details,
                        "previous_event_id": str(event["previousEventId"]),
                        "event_timestamp": str(int(event["timestamp"].timestamp() * 1000)),
                        "execution_arn": execution.execution_arn,
                    }
                )
            )
        if not lines:
            return
        group = config["group"]
        stream = f"states/{execution.machine.name}/{execution.name}"
        # Ingestion time is the wall clock, like the functions' logs (CloudWatch Logs refuses events more
        # than 2 h ahead, and the virtual clock may be); each line keeps its virtual event_timestamp.
        now = int(time.time() * 1000)
        with self.core.lock:
            logs = self.core.logs_backend(self.core.account_id, self.core.region)
            if group not in logs.groups:
                logs.create_log_group(group, {})
            if stream not in logs.groups[group].streams:
                logs.create_log_stream(group, stream)
            logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])

    # -- moto hooks ------------------------------------------------------------------------------

    def install(self, patcher: Patcher) -> None:
        """Replace moto's execution methods by this service's (restored by the patcher)."""
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend
        from moto.stepfunctions.responses import StepFunctionResponse
        from moto.stepfunctions.utils import PAGINATION_MODEL
        from moto.utilities.paginator import paginate

        service = self
        create = StepFunctionsParserBackend.create_state_machine
        update = StepFunctionsParserBackend.update_state_machine

        def create_state_machine(backend: Any, name: str, definition: str, roleArn: str, **kwargs: Any) -> Any:
            _check(name, definition)
            for key in ("loggingConfiguration", "tracingConfiguration"):
                if kwargs.get(key):
                    # CloudFormation spells them in PascalCase; the API (and DescribeStateMachine) in camelCase.
                    kwargs[key] = _camel(kwargs[key])
            return create(backend, name, definition, roleArn, **kwargs)

        def update_state_machine(backend: Any, arn: str, definition: str | None = None, **kwargs: Any) -> Any:
            if definition is not None:
                _check(arn, definition)
            return update(backend, arn, definition=definition, **kwargs)

        def start_execution(
            backend: Any,
            state_machine_arn: str,
            name: Any = None,
            execution_input: Any = None,
            trace_header: Any = None,
        ) -> Any:
            with service.core.lock.released():
                return service.start(state_machine_arn, name, execution_input)

        @paginate(pagination_model=PAGINATION_MODEL)
        def list_executions(backend: Any, state_machine_arn: str, status_filter: str | None = None) -> list[Any]:
            return service.list(state_machine_arn, status_filter)

        def describe_execution(backend: Any, execution_arn: str) -> Any:
            return service.get(execution_arn, api="DescribeExecution")

        def get_execution_history(backend: Any, execution_arn: str) -> dict[str, Any]:
            return {"events": list(service.get(execution_arn, api="GetExecutionHistory").history.events)}

        def describe_state_machine_for_execution(backend: Any, execution_arn: str) -> Any:
            return service.get(execution_arn, api="DescribeStateMachineForExecution").machine

        def stop_execution(backend: Any, execution_arn: str, error: Any = None, cause: Any = None) -> Any:
            return service.stop(execution_arn, error, cause)

        def send_task_success(backend: Any, task_token: str, outcome: str) -> Any:
            service.answer(task_token, output=outcome)

        def send_task_failure(backend: Any, task_token: str, error: Any = None, cause: Any = None) -> Any:
            service.answer(task_token, error=(error or "", cause or ""))

        def send_task_heartbeat(backend: Any, task_token: str) -> Any:
            service.heartbeat(task_token)

        for name, method in {
            "create_state_machine": create_state_machine,
            "update_state_machine": update_state_machine,
            "start_execution": start_execution,
            "list_executions": list_executions,
            "describe_execution": describe_execution,
            "get_execution_history": get_execution_history,
            "describe_state_machine_for_execution": describe_state_machine_for_execution,
            "stop_execution": stop_execution,
            "send_task_success": send_task_success,
            "send_task_failure": send_task_failure,
            "send_task_heartbeat": send_task_heartbeat,
        }.items():
            patcher.set(StepFunctionsParserBackend, name, method)
        self._install_responses(patcher, StepFunctionResponse)
        self._install_sync_endpoint(patcher)

    @staticmethod
    def _install_sync_endpoint(patcher: Patcher) -> None:
        """StartSyncExecution goes to ``sync-states.<region>.amazonaws.com`` (botocore's host prefix)."""
        import re

        import moto.stepfunctions.urls as sfn_urls
        from moto import backend_index

        sync = r"https?://sync-states\.(.+)\.amazonaws.com"
        patcher.set(sfn_urls, "url_bases", [*sfn_urls.url_bases, sync])
        patcher.set(
            backend_index,
            "backend_url_patterns",
            [("stepfunctions", re.compile(sync)), *backend_index.backend_url_patterns],
        )

    def _install_responses(self, patcher: Patcher, response_class: Any) -> None:
        from moto.core.responses import ActionResult, EmptyResult

        service = self

        def start_sync_execution(response: Any) -> Any:
            arn = response._get_param("stateMachineArn")
            with service.core.lock.released():
                execution = service.start(arn, response._get_param("name"), response._get_param("input"), sync=True)
                service.wait(execution)
            return ActionResult(execution.sync_response())

        def stop_execution(response: Any) -> Any:
            execution = service.stop(
                response._get_param("executionArn"), response._get_param("error"), response._get_param("cause")
            )
            return ActionResult({"stopDate": execution.stop_date})

        def send_task_failure(response: Any) -> Any:
            service.answer(
                response._get_param("taskToken"),
                error=(response._get_param("error") or "", response._get_param("cause") or ""),
            )
            return EmptyResult()

        def describe_execution(response: Any) -> Any:
            execution = service.get(response._get_param("executionArn"), api="DescribeExecution")
            described = {
                "executionArn": execution.execution_arn,
                "stateMachineArn": execution.state_machine_arn,
                "name": execution.name,
                "status": execution.status,
                "startDate": execution.start_date,
                "input": execution.execution_input,
                "inputDetails": {"included": True},
            }
            if execution.stop is not None:
                described["stopDate"] = execution.stop_date
            if execution.output is not None:
                described.update(output=execution.output, outputDetails={"included": True})
            described.update({k: v for k, v in (("error", execution.error), ("cause", execution.cause)) if v})
            return ActionResult(described)

        def list_executions(response: Any) -> Any:
            backend = service.core.sfn_backend(service.core.account_id, service.core.region)
            results, next_token = backend.list_executions(
                response._get_param("stateMachineArn"),
                status_filter=response._get_param("statusFilter"),
                max_results=response._get_int_param("maxResults"),
                next_token=response._get_param("nextToken"),
            )
            listed = []
            for execution in results:
                item = {
                    "executionArn": execution.execution_arn,
                    "stateMachineArn": execution.state_machine_arn,
                    "name": execution.name,
                    "status": execution.status,
                    "startDate": execution.start_date,
                }
                if execution.stop is not None:
                    item["stopDate"] = execution.stop_date
                listed.append(item)
            return ActionResult({"executions": listed, "nextToken": next_token})

        patcher.set(response_class, "describe_execution", describe_execution)
        patcher.set(response_class, "list_executions", list_executions)
        patcher.set(response_class, "start_sync_execution", start_sync_execution)
        patcher.set(response_class, "stop_execution", stop_execution)
        patcher.set(response_class, "send_task_failure", send_task_failure)

    def wait(self, execution: Execution, timeout: float = 300.0) -> None:
        """Block until ``execution`` ends; without a background poller, drive the clock meanwhile.

        A synchronous caller (StartSyncExecution, an API Gateway request) waits for the result the
        way AWS makes it wait; in-process tests have no background poller, so this thread drains
        the cloud until the execution is done (its Wait states and back-offs fast-forwarded).
        """
        engine = self.core.engine
        if engine.background or engine._draining:
            if not execution.done.wait(timeout):
                raise TimeoutError(f"{execution.execution_arn} did not finish within {timeout} s")
            return
        engine.drain(timeout)
        execution.done.wait(1.0)


def _check(name: str, definition: str) -> None:
    from moto.stepfunctions.exceptions import ValidationException

    problem = validate_definition(definition)
    if problem:
        raise ValidationException(f"the local cloud cannot run AWS::StepFunctions::StateMachine {name}: {problem}")


def _camel(value: Any) -> Any:
    """Keys of a CloudFormation property (PascalCase) as the Step Functions API spells them."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _logging_config(config: Any) -> dict[str, Any]:
    """level, includeExecutionData and the log group name, from API (camelCase) or CFN (PascalCase) shapes."""
    if not isinstance(config, dict):
        return {}
    lower = {k[:1].lower() + k[1:]: v for k, v in config.items()}
    group = None
    for destination in lower.get("destinations") or []:
        target = destination.get("cloudWatchLogsLogGroup") or destination.get("CloudWatchLogsLogGroup") or {}
        arn = target.get("logGroupArn") or target.get("LogGroupArn") or ""
        if ":log-group:" in arn:
            group = arn.split(":log-group:")[1].split(":")[0]
    return {
        "level": lower.get("level", "OFF"),
        "includeExecutionData": lower.get("includeExecutionData"),
        "group": group,
    }
