"""The one way a pattern builds a Python function.

Defaults (DESIGN.md): latest Python runtime, arm64, Powertools v3 from its public layer, JSON logs in
an explicit log group with retention, X-Ray active tracing, explicit memory and timeout, and a role
that can write only to its own log group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import nag
from .validation import in_range, reserved

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
#: Powertools for AWS Lambda (Python) v3 layer version. Default of ``FunctionOptions.powertools_layer_version``.
POWERTOOLS_LAYER_VERSION = 38

#: Variables the Lambda runtime sets itself; Lambda rejects a function that sets them (AWS docs,
#: "Defined runtime environment variables").
LAMBDA_RESERVED_ENVIRONMENT = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)

Invocation = Literal["sync", "sqs", "stream", "async", "schedule"]

_NOT_ASYNC_REASONS: dict[str, str] = {
    "sync": "invoked synchronously: an error returns to the caller, there is no event to park in a DLQ",
    "sqs": "invoked by an SQS event source mapping: failed messages go to the source queue's DLQ",
    "stream": "invoked by a stream event source mapping: failed batches go to its on-failure destination",
    "schedule": "invoked by an EventBridge rule whose target carries its own DLQ and retry policy",
}


@dataclass(frozen=True, kw_only=True)
class FunctionOptions:
    """Knobs a pattern user may turn on every function the pattern creates.

    Defaults: 256 MB, 10 seconds, one month of log retention, Powertools layer version
    ``POWERTOOLS_LAYER_VERSION``, INFO log level.
    """

    memory_size: int = 256
    timeout: Duration = field(default_factory=lambda: Duration.seconds(10))
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    powertools_layer_version: int = POWERTOOLS_LAYER_VERSION
    log_level: str = "INFO"
    environment: Mapping[str, str] = field(default_factory=dict)


def powertools_layer_arn(scope: Construct, version: int = POWERTOOLS_LAYER_VERSION) -> str:
    """Region- and partition-aware ARN of the public Powertools v3 layer for RUNTIME and ARCHITECTURE."""
    stack = Stack.of(scope)
    runtime = RUNTIME.name.replace(".", "")  # python3.14 -> python314
    arch = ARCHITECTURE.name  # "arm64" or "x86_64", as the layer names spell them
    return (
        f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{runtime}-{arch}:{version}"
    )


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    code: lambda_.Code,
    handler: str,
    service: str,
    invocation: Invocation,
    description: str = "",
    options: FunctionOptions | None = None,
    options_prop: str = "function_options",
    environment: Mapping[str, str] | None = None,
    user_environment: Mapping[str, str] | None = None,
    user_environment_prop: str = "environment",
    timeout: Duration | None = None,
    reserved_concurrency: int | None = None,
) -> lambda_.Function:
    """Build a function with the library defaults.

    ``invocation`` says how the function is triggered; for everything but ``async`` it also records
    why the function needs no DLQ of its own (cdk-nag Serverless-LambdaDLQ), so that reason is
    stated once, here, rather than in every pattern.

    ``environment`` is the pattern's own wiring; the user's variables come from ``options``
    (the pattern prop ``options_prop``) and ``user_environment`` (the prop ``user_environment_prop``).
    A user variable that names a pattern or Powertools variable, or one Lambda reserves, is a
    ``ValueError`` naming the prop (``validation.reserved``), never a silent override.
    """
    opts = options or FunctionOptions()
    in_range("memory_size", opts.memory_size, 128, 10240)
    in_range("reserved_concurrency", reserved_concurrency, 0, 10000)
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=opts.log_retention)
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {construct_id} ({service})",
    )
    log_group.grant_write(role)
    owned = {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns",
        "POWERTOOLS_LOG_LEVEL": opts.log_level,
        **(environment or {}),
    }
    env: dict[str, str] = {}
    for prop, given in ((f"{options_prop}.environment", opts.environment), (user_environment_prop, user_environment)):
        reserved(prop, given, LAMBDA_RESERVED_ENVIRONMENT, "the Lambda runtime sets it")
        reserved(prop, given, owned, f"the pattern wires it into {construct_id}")
        env.update(given or {})
    env.update(owned)
    function = lambda_.Function(
        scope,
        construct_id,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=code,
        handler=handler,
        description=description or f"{service}: {handler}",
        memory_size=opts.memory_size,
        timeout=timeout or opts.timeout,
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        tracing=lambda_.Tracing.ACTIVE,
        environment=env,
        reserved_concurrent_executions=reserved_concurrency,
        layers=[
            lambda_.LayerVersion.from_layer_version_arn(
                scope, f"{construct_id}Powertools", powertools_layer_arn(scope, opts.powertools_layer_version)
            )
        ],
    )
    nag.acknowledge(role, *nag.XRAY_WILDCARD)
    reason = _NOT_ASYNC_REASONS.get(invocation)
    if reason:
        nag.acknowledge(function, "Serverless-LambdaDLQ", reason)
    return function
