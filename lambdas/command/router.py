"""The command router: validates ``{command, version, payload}`` and invokes the handler function
registered for that command and version (routing table in the ``ROUTES`` environment variable).

Every failure is an answer, not a crash: a malformed envelope, an unknown command or version, and a
failing handler each return ``{"error": ..., "code": ...}`` to the synchronous caller.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError
from models import CommandEnvelope, describe

logger = Logger()
tracer = Tracer()
metrics = Metrics()

#: ``{"<command>": {"<version>": "<function ARN>"}}``, written by the construct at synth time.
ROUTES: dict[str, dict[str, str]] = json.loads(os.environ["ROUTES"])
# Wait as long as the router itself may run. No automatic retries: a command need not be idempotent,
# so a throttled or failed invoke is answered (HandlerUnavailable) and the caller decides.
INVOKE_TIMEOUT = int(os.environ.get("INVOKE_TIMEOUT_SECONDS", "60"))


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def _lambda() -> Any:
    return boto3.client(
        "lambda",
        config=Config(
            read_timeout=INVOKE_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )


class Rejected(Exception):
    """A command the router answers with an error instead of routing."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def route(envelope: CommandEnvelope) -> str:
    """The ARN of the function handling this command version."""
    versions = ROUTES.get(envelope.command)
    if versions is None:
        raise Rejected("UnknownCommand", f"unknown command {envelope.command!r} (known: {', '.join(sorted(ROUTES))})")
    target = versions.get(str(envelope.version))
    if target is None:
        known = ", ".join(str(v) for v in sorted(map(int, versions)))
        raise Rejected(
            "UnknownVersion", f"unknown version {envelope.version} of command {envelope.command!r} (known: {known})"
        )
    return target


@tracer.capture_method
def dispatch(envelope: CommandEnvelope) -> Any:
    """Invoke the handler synchronously and return its answer unchanged."""
    target = route(envelope)
    label = f"{envelope.command} v{envelope.version}"
    try:
        response = _lambda().invoke(
            FunctionName=target, InvocationType="RequestResponse", Payload=envelope.model_dump_json().encode()
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        raise Rejected("HandlerUnavailable", f"{label} could not be invoked: {code}") from error
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        detail = answer if not isinstance(answer, dict) else f"{answer.get('errorType')}: {answer.get('errorMessage')}"
        raise Rejected("HandlerFailed", f"{label} failed: {detail}")
    return answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> Any:
    try:
        envelope = parse(event=event, model=CommandEnvelope)
    except ValidationError as error:
        return _reject(Rejected("InvalidEnvelope", f"invalid command envelope: {describe(error)}"))
    logger.append_keys(command=envelope.command, version=envelope.version)
    try:
        answer = dispatch(envelope)
    except Rejected as rejected:
        return _reject(rejected)
    metrics.add_metric(name="CommandRouted", unit=MetricUnit.Count, value=1)
    logger.info("command routed")
    return answer


def _reject(rejected: Rejected) -> dict[str, str]:
    metrics.add_metric(name="CommandRejected", unit=MetricUnit.Count, value=1)
    logger.warning(rejected.message, extra={"code": rejected.code})
    return {"error": rejected.message, "code": rejected.code}
