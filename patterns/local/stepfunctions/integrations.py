"""Task resources: what a Task state calls, with the error names and result shapes Step Functions uses.

Supported (anything else is refused when the state machine is created, so a deploy fails instead
of an execution):

- ``arn:aws:states:::lambda:invoke`` (and ``.waitForTaskToken``) and a plain function ARN;
- ``dynamodb:putItem|getItem|updateItem|deleteItem``, ``sqs:sendMessage``, ``sns:publish``,
  ``events:putEvents`` (these three also ``.waitForTaskToken``);
- ``states:startExecution`` request-response, ``.sync`` (output as a string) and ``.sync:2`` (JSON);
- ``aws-sdk:<service>:<action>`` for any service and action boto3 knows, called through the local cloud.

Lambda tasks run the function in the local runtime (its own execution environment); the others
call the local cloud's APIs with boto3, so every call gets that API's validation and errors.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ExecutionStopped, StatesError

if TYPE_CHECKING:
    from ..core import CloudCore
    from .interpreter import Run
    from .service import StepFunctionsService

_OPTIMIZED: dict[str, dict[str, tuple[str, ...]]] = {
    "lambda": {"invoke": ("", ".waitForTaskToken")},
    "dynamodb": {name: ("",) for name in ("putItem", "getItem", "updateItem", "deleteItem")},
    "sqs": {"sendMessage": ("", ".waitForTaskToken")},
    "sns": {"publish": ("", ".waitForTaskToken")},
    "events": {"putEvents": ("", ".waitForTaskToken")},
    "states": {"startExecution": ("", ".sync", ".sync:2")},
}
#: Error-name prefixes of the optimized integrations (``DynamoDB.ConditionalCheckFailedException``).
_PREFIX = {"dynamodb": "DynamoDB", "sqs": "SQS", "sns": "SNS", "events": "EventBridge", "lambda": "Lambda"}
#: aws-sdk service names that differ from boto3's.
_SDK_SERVICES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs", "apigateway": "apigateway"}


@dataclass(frozen=True)
class Resource:
    """A parsed Task ``Resource``: (kind, service, action, pattern) or a function ARN."""

    arn: str
    service: str
    action: str
    pattern: str = ""
    function_arn: str | None = None

    @property
    def history_type(self) -> str:
        return self.service

    @property
    def history_resource(self) -> str:
        return self.action + self.pattern


def parse_resource(arn: str) -> Resource:
    """Parse a Task resource, raising ValueError naming what the local cloud cannot run."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return Resource(arn, "lambda", "function", function_arn=arn)
    if len(parts) < 6 or parts[2] != "states" or parts[3] or parts[4]:
        raise ValueError(f"Task resource {arn!r} is not supported locally (activities and other ARNs)")
    service = parts[5]
    rest = ":".join(parts[6:])
    if service == "aws-sdk":
        sdk_service, _, action = rest.partition(":")
        pattern = ""
        for suffix in (".waitForTaskToken", ".sync"):
            if action.endswith(suffix):
                raise ValueError(
                    f"Task resource {arn!r}: the {suffix} pattern of aws-sdk integrations is not supported"
                )
        _sdk_operation(sdk_service, action)
        return Resource(arn, f"aws-sdk:{sdk_service}", action, pattern)
    action, dot, pattern = rest.partition(".")
    pattern = dot + pattern
    allowed = _OPTIMIZED.get(service, {}).get(action)
    if allowed is None:
        raise ValueError(f"Task resource {arn!r}: the {service}:{action} integration is not supported locally")
    if pattern not in allowed:
        raise ValueError(f"Task resource {arn!r}: the {pattern or 'request-response'} pattern is not supported locally")
    return Resource(arn, service, action, pattern)


def _sdk_operation(service: str, action: str) -> tuple[str, str]:
    """(boto3 service, operation name) of an aws-sdk integration; ValueError if boto3 has no such API."""
    import botocore.session

    boto_service = _SDK_SERVICES.get(service, service)
    session = botocore.session.get_session()
    if boto_service not in session.get_available_services():
        raise ValueError(f"aws-sdk integration: unknown service {service!r}")
    model = session.get_service_model(boto_service)
    operation = action[:1].upper() + action[1:]
    if operation not in model.operation_names:
        raise ValueError(f"aws-sdk integration: {service} has no action {action!r}")
    return boto_service, operation


#: The PascalCase service names of aws-sdk error names (``DynamoDb.ResourceNotFoundException``).
_SDK_ERROR_NAMES = {
    "dynamodb": "DynamoDb",
    "eventbridge": "EventBridge",
    "acmpca": "AcmPca",
    "cloudwatchlogs": "CloudWatchLogs",
    "cloudwatch": "CloudWatch",
    "secretsmanager": "SecretsManager",
    "apigateway": "ApiGateway",
}


def _sdk_error_prefix(service: str) -> str:
    return _SDK_ERROR_NAMES.get(service, service[:1].upper() + service[1:])


class Heartbeat:
    """HeartbeatSeconds of a callback task: expired once that much virtual time passes without a beat."""

    def __init__(self, run: Run, seconds: float, name: str) -> None:
        self.run = run
        self.seconds = seconds
        self.name = name
        self._timer = run.clock.timer(seconds, f"HeartbeatSeconds of task {name}", deadline=True)

    def beat(self) -> None:
        self._timer.cancel()
        self._timer = self.run.clock.timer(self.seconds, f"HeartbeatSeconds of task {self.name}", deadline=True)

    def expired(self) -> bool:
        return self._timer.is_set()

    def cancel(self) -> None:
        self._timer.cancel()


@dataclass
class Callback:
    """A task token waiting for SendTaskSuccess / SendTaskFailure."""

    done: threading.Event = field(default_factory=threading.Event)
    output: Any = None
    error: tuple[str, str] | None = None
    heartbeat: Heartbeat | None = None


class TaskCall:
    """One attempt of a Task state: history events around the call and the call itself."""

    def __init__(
        self,
        owner: Integrations,
        resource: Resource,
        parameters: Any,
        run: Run,
        name: str,
        timeout: float,
        heartbeat: float | None,
        token: str | None,
    ) -> None:
        self.owner = owner
        self.resource = resource
        self.parameters = parameters
        self.run = run
        self.name = name
        self.timeout = timeout
        self.token = token
        self.heartbeat: Heartbeat | None = None
        if token is not None and heartbeat is not None:
            self.heartbeat = Heartbeat(run, heartbeat, name)
        self._lambda = resource.function_arn is not None

    # -- history ---------------------------------------------------------------------------------

    def _details(self, **extra: Any) -> dict[str, Any]:
        if self._lambda:
            return {"resource": self.resource.arn, **extra}
        return {"resourceType": self.resource.history_type, "resource": self.resource.history_resource, **extra}

    def scheduled(self) -> None:
        history = self.run.history
        parameters = json.dumps(self.parameters, separators=(",", ":"))
        if self._lambda:
            history.add(
                "LambdaFunctionScheduled",
                "lambdaFunctionScheduledEventDetails",
                {"resource": self.resource.arn, "input": parameters, "inputDetails": {"truncated": False}},
            )
            history.add("LambdaFunctionStarted")
            return
        details = self._details(region=self.owner.core.region, parameters=parameters)
        if self.timeout < 99999999:
            details["timeoutInSeconds"] = int(self.timeout)
        if self.heartbeat is not None:
            details["heartbeatInSeconds"] = int(self.heartbeat.seconds)
        history.add("TaskScheduled", "taskScheduledEventDetails", details)
        history.add("TaskStarted", "taskStartedEventDetails", self._details())

    def succeeded(self, result: Any) -> None:
        output = {"output": json.dumps(result, separators=(",", ":")), "outputDetails": {"truncated": False}}
        if self._lambda:
            self.run.history.add("LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails", output)
        else:
            self.run.history.add("TaskSucceeded", "taskSucceededEventDetails", self._details(**output))

    def failed(self, error: str, cause: str) -> None:
        timed_out = error in ("States.Timeout", "States.HeartbeatTimeout")
        if self._lambda:
            kind = "LambdaFunctionTimedOut" if timed_out else "LambdaFunctionFailed"
            key = "lambdaFunctionTimedOutEventDetails" if timed_out else "lambdaFunctionFailedEventDetails"
            self.run.history.add(kind, key, {"error": error, "cause": cause})
        else:
            kind = "TaskTimedOut" if timed_out else "TaskFailed"
            key = "taskTimedOutEventDetails" if timed_out else "taskFailedEventDetails"
            self.run.history.add(kind, key, self._details(error=error, cause=cause))

    def cancel(self) -> None:
        if self.token is not None:
            self.owner.service.forget_token(self.token)

    # -- the call --------------------------------------------------------------------------------

    def invoke(self) -> Any:
        resource = self.resource
        if resource.function_arn is not None:
            return self.owner.lambda_invoke(resource.function_arn, self.parameters, "RequestResponse", raw=True)
        if resource.service.startswith("aws-sdk:"):
            return self.owner.sdk_call(resource.service.split(":", 1)[1], resource.action, self.parameters)
        if resource.service == "states":
            return self.owner.start_execution(self.parameters, resource.pattern, self.run)
        params = self.parameters if isinstance(self.parameters, dict) else {}
        if resource.service == "lambda":
            payload = dict(params)
            result = self.owner.lambda_invoke(
                str(payload.get("FunctionName", "")),
                payload.get("Payload"),
                str(payload.get("InvocationType") or "RequestResponse"),
                qualifier=payload.get("Qualifier"),
            )
        else:
            result = self.owner.service_call(resource.service, resource.action, params)
        if resource.pattern == ".waitForTaskToken":
            return self._wait_for_callback()
        return result

    def _wait_for_callback(self) -> Any:
        assert self.token is not None
        callback = self.owner.service.callback(self.token)
        callback.heartbeat = self.heartbeat
        self.run.clock.wait_for(callback.done.is_set, self.run.stopped)
        if callback.error is not None:
            raise StatesError(*callback.error)
        return callback.output


class Integrations:
    """The task resources of one local cloud."""

    def __init__(self, core: CloudCore, service: StepFunctionsService) -> None:
        self.core = core
        self.service = service
        self._clients = threading.local()

    def prepare(
        self,
        resource_arn: str,
        parameters: Any,
        run: Run,
        name: str,
        timeout: float,
        heartbeat: float | None,
        token: str | None,
    ) -> TaskCall:
        try:
            resource = parse_resource(resource_arn)
        except ValueError as exc:
            raise StatesError("States.Runtime", str(exc)) from exc
        return TaskCall(self, resource, parameters, run, name, timeout, heartbeat, token)

    def client(self, service: str) -> Any:
        clients: dict[str, Any] = self._clients.__dict__.setdefault("by_service", {})
        if service not in clients:
            clients[service] = self.core.client(service)
        return clients[service]

    # -- Lambda ----------------------------------------------------------------------------------

    def lambda_invoke(
        self, function: str, payload: Any, invocation_type: str, *, qualifier: Any = None, raw: bool = False
    ) -> Any:
        from ..runtime import FunctionThrottled

        ref = f"{function}:{qualifier}" if qualifier and not function.startswith("arn:") else function
        spec = self.core.function_spec(ref)
        if spec is None:
            raise StatesError("Lambda.ResourceNotFoundException", f"Function not found: {function}")
        event = payload if payload is not None else {}
        if isinstance(event, str):
            try:
                event = json.loads(event)
            except ValueError as exc:
                raise StatesError("Lambda.InvalidRequestContentException", f"Could not parse payload: {exc}") from exc
        if invocation_type == "Event":
            request_id = self.core.engine.invoke_async(spec.arn, event, source="states")
            return _lambda_result(request_id, "", 202)
        try:
            outcome = self.core.runtime.invoke(spec, event, source="states")
        except FunctionThrottled as exc:
            raise StatesError("Lambda.TooManyRequestsException", str(exc)) from exc
        if outcome.throttled:
            raise StatesError("Lambda.TooManyRequestsException", f"Rate Exceeded: {spec.name}")
        if outcome.error is not None:
            error = outcome.error
            raise StatesError(str(error.get("errorType") or "Lambda.Unknown"), json.dumps(error))
        return outcome.result if raw else _lambda_result(outcome.request_id, outcome.result, 200)

    # -- the other services ----------------------------------------------------------------------

    def service_call(self, service: str, action: str, params: dict[str, Any]) -> Any:
        """An optimized integration: the API call with the integration's conveniences (JSON bodies)."""
        params = dict(params)
        if service == "sqs" and not isinstance(params.get("MessageBody"), str):
            params["MessageBody"] = json.dumps(params.get("MessageBody"))
        if service == "sns" and "Message" in params and not isinstance(params["Message"], str):
            params["Message"] = json.dumps(params["Message"])
        if service == "events":
            entries = []
            for entry in params.get("Entries") or []:
                entry = dict(entry)
                if "Detail" in entry and not isinstance(entry["Detail"], str):
                    entry["Detail"] = json.dumps(entry["Detail"])
                entries.append(entry)
            params["Entries"] = entries
        result = self._call(service, action[:1].upper() + action[1:], params, _PREFIX[service])
        if service == "events" and result.get("FailedEntryCount"):
            raise StatesError("EventBridge.FailedEntry", json.dumps(result))
        return result

    def sdk_call(self, service: str, action: str, params: Any) -> Any:
        try:
            boto_service, operation = _sdk_operation(service, action)
        except ValueError as exc:
            raise StatesError("States.Runtime", str(exc)) from exc
        return self._call(
            boto_service, operation, params if isinstance(params, dict) else {}, _sdk_error_prefix(service)
        )

    def _call(
        self, boto_service: str, operation: str, params: dict[str, Any], prefix: str, *, suffix: bool = False
    ) -> Any:
        from botocore import xform_name
        from botocore.exceptions import ClientError, ParamValidationError

        client = self.client(boto_service)
        try:
            response = getattr(client, xform_name(operation))(**params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "Exception").split(".")[-1]
            if suffix and not code.endswith("Exception"):
                code += "Exception"  # aws-sdk error names always end in Exception
            message = str(exc.response.get("Error", {}).get("Message") or exc)
            raise StatesError(f"{prefix}.{code}", message) from exc
        except ParamValidationError as exc:
            raise StatesError(f"{prefix}.ValidationException", str(exc)) from exc
        response.pop("ResponseMetadata", None)
        return json.loads(json.dumps(response, default=_json_default))

    # -- nested state machines -------------------------------------------------------------------

    def start_execution(self, params: Any, pattern: str, parent: Run) -> Any:
        if not isinstance(params, dict) or "StateMachineArn" not in params:
            raise StatesError("States.Runtime", "states:startExecution needs StateMachineArn")
        child_input = params.get("Input", {})
        text = child_input if isinstance(child_input, str) else json.dumps(child_input)
        try:
            execution = self.service.start(str(params["StateMachineArn"]), params.get("Name"), text)
        except Exception as exc:  # moto's API errors: ExecutionAlreadyExists, StateMachineDoesNotExist, ...
            code = getattr(exc, "code", None) or type(exc).__name__
            raise StatesError(f"StepFunctions.{code}", str(exc)) from exc
        if not pattern:
            return {"ExecutionArn": execution.arn, "StartDate": int(execution.start * 1000)}
        try:
            parent.clock.wait_for(execution.done.is_set, parent.stopped)
        except ExecutionStopped:
            self.service.stop(execution.arn, "States.Aborted", "the parent execution stopped")
            raise
        described = execution.describe(json_output=pattern == ".sync:2")
        if execution.status != "SUCCEEDED":
            raise StatesError("States.TaskFailed", json.dumps(described, default=_json_default))
        return described


def _lambda_result(request_id: str, payload: Any, status: int) -> dict[str, Any]:
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {"HttpStatusCode": status},
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": status,
    }


def _json_default(value: Any) -> Any:
    import datetime

    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    return str(value)


def new_token() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex + str(int(time.time()))
