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
from .validation import in_range

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
#: Powertools for AWS Lambda (Python) v3 layer version. Default of ``FunctionOptions.powertools_layer_version``.
POWERTOOLS_LAYER_VERSION = 38

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
    environment: Mapping[str, str] | None = None,
    timeout: Duration | None = None,
    reserved_concurrency: int | None = None,
) -> lambda_.Function:
    """Build a function with the library defaults.

    ``invocation`` says how the function is triggered; for everything but ``async`` it also records
    why the function needs no DLQ of its own (cdk-nag Serverless-LambdaDLQ), so that reason is
    stated once, here, rather than in every pattern.
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
    env = {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns",
        "POWERTOOLS_LOG_LEVEL": opts.log_level,
        **opts.environment,
        **(environment or {}),
    }
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
