"""Step Functions defaults, once: logging, tracing, timeouts and retries of Lambda tasks.

Every state machine a pattern builds: logs to its own log group at level ALL with execution data
*off* (inputs and outputs may carry personal data; turn it on per machine), X-Ray tracing, an
explicit execution timeout. Every Lambda task: retries Lambda's transient service errors with
exponential back-off and full jitter (AWS's advice for retries from many concurrent callers), so a
brief throttle or service hiccup never fails a workflow — and nothing else is retried by default,
because a business error retried is a business error repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from . import nag
from .validation import in_range

#: Lambda's transient errors as Step Functions names them: worth retrying, never the function's own errors.
TRANSIENT_LAMBDA_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
)


@dataclass(frozen=True, kw_only=True)
class StateMachineOptions:
    """Knobs of every state machine and Lambda task a pattern builds.

    Defaults: 5-minute execution timeout, logs at level ALL without execution data kept one month,
    X-Ray on; Lambda tasks retry the transient Lambda errors up to 6 times from 1 s, doubling, at
    most 30 s apart, with full jitter.
    """

    timeout: Duration = field(default_factory=lambda: Duration.minutes(5))
    log_level: sfn.LogLevel = sfn.LogLevel.ALL
    include_execution_data: bool = False
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    tracing: bool = True
    retry_interval: Duration = field(default_factory=lambda: Duration.seconds(1))
    retry_max_attempts: int = 6
    retry_backoff_rate: float = 2.0
    retry_max_delay: Duration = field(default_factory=lambda: Duration.seconds(30))


def lambda_task(
    scope: Construct,
    construct_id: str,
    *,
    function: lambda_.IFunction,
    options: StateMachineOptions | None = None,
    payload: sfn.TaskInput | None = None,
    input_path: str | None = None,
    result_path: str | None = None,
    result_selector: Mapping[str, Any] | None = None,
    timeout: Duration | None = None,
    comment: str | None = None,
) -> tasks.LambdaInvoke:
    """A LambdaInvoke task whose result is the function's payload, retrying only transient Lambda errors.

    Pass a part of the state's input with ``input_path`` (a ``from_json_path_at`` payload would be
    rendered as a string ``Parameters``, which Step Functions refuses).
    ``timeout`` (the task's TimeoutSeconds) defaults to the function's own timeout plus 5 s when it
    is known, so a task never waits for a function that Lambda has already stopped.
    """
    opts = options or StateMachineOptions()
    in_range("retry_max_attempts", opts.retry_max_attempts, 0, 99999999)
    task_timeout = timeout
    if task_timeout is None and isinstance(function, lambda_.Function) and function.timeout is not None:
        task_timeout = Duration.seconds(function.timeout.to_seconds() + 5)
    task = tasks.LambdaInvoke(
        scope,
        construct_id,
        lambda_function=function,
        payload=payload,
        payload_response_only=True,
        input_path=input_path,
        retry_on_service_exceptions=False,  # replaced by the retry below (adds jitter and a cap)
        result_path=result_path,
        result_selector=result_selector,
        task_timeout=sfn.Timeout.duration(task_timeout) if task_timeout is not None else None,
        comment=comment,
    )
    task.add_retry(
        errors=list(TRANSIENT_LAMBDA_ERRORS),
        interval=opts.retry_interval,
        max_attempts=opts.retry_max_attempts,
        backoff_rate=opts.retry_backoff_rate,
        max_delay=opts.retry_max_delay,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def state_machine(
    scope: Construct,
    construct_id: str,
    *,
    definition: sfn.IChainable,
    express: bool = False,
    options: StateMachineOptions | None = None,
    comment: str | None = None,
) -> sfn.StateMachine:
    """A state machine with the library defaults (see the module docstring)."""
    opts = options or StateMachineOptions()
    timeout_seconds = opts.timeout.to_seconds()
    if express:
        # Express executions run at most five minutes.
        in_range("timeout (seconds) of an Express state machine", timeout_seconds, 1, 300)
    else:
        in_range("timeout (seconds)", timeout_seconds, 1, 31_536_000)
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=opts.log_retention)
    machine = sfn.StateMachine(
        scope,
        construct_id,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.EXPRESS if express else sfn.StateMachineType.STANDARD,
        timeout=opts.timeout,
        tracing_enabled=opts.tracing,
        logs=sfn.LogOptions(
            destination=log_group, level=opts.log_level, include_execution_data=opts.include_execution_data
        ),
        comment=comment,
    )
    nag.acknowledge(
        machine.role,
        "AwsSolutions-IAM5[Resource::*]",
        "CloudWatch Logs delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) "
        "support no resource-level permissions; Step Functions needs them to log and trace",
    )
    return machine


def acknowledge_task_invokes(machine: sfn.StateMachine, *functions: lambda_.IFunction) -> None:
    """Acknowledge CDK's ``<function arn>:*`` grant of each Lambda task (invoke of any version/alias)."""
    for function in functions:
        resolved = machine.stack.resolve(function.function_arn)
        logical_id = resolved.get("Fn::GetAtt", [None])[0] if isinstance(resolved, dict) else None
        if logical_id:
            nag.acknowledge(
                machine.role,
                f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                "CDK's LambdaInvoke grants the function's versions and aliases (<arn>:*) next to the function; "
                "the task calls only the unqualified function",
            )
