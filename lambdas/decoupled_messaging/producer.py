"""Producer of the DecoupledMessaging pattern: validates a batch of messages and puts them on the queue.

Invoked directly (synchronously). Input is validated as a whole before anything is sent, so a bad
request sends nothing. SQS accepts or refuses each entry of a batch on its own: refused ids are
returned so the caller can retry exactly those (the consumer deduplicates on ``id``).
"""

from __future__ import annotations

import functools
import os
import uuid
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import SQS_BATCH, Message, ProduceRequest, ProduceResult
from pydantic import ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def sqs() -> Any:
    return boto3.client("sqs")


QUEUE_URL = os.environ["QUEUE_URL"]


class InvalidRequest(ValueError):
    """The invocation payload is not a valid ProduceRequest; nothing was sent."""


def parse(event: Any) -> list[Message]:
    """Validate the whole request and assign missing ids; raise InvalidRequest naming every problem."""
    try:
        request = ProduceRequest.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in error.errors())
        raise InvalidRequest(f"invalid produce request, nothing sent: {problems}") from None
    messages = [Message(id=m.id or uuid.uuid4().hex, kind=m.kind, payload=m.payload) for m in request.messages]
    ids = [m.id for m in messages]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InvalidRequest(f"invalid produce request, nothing sent: duplicate message ids {duplicates}")
    return messages


@tracer.capture_method
def produce(messages: list[Message]) -> ProduceResult:
    """Send the messages in batches of 10; collect what SQS accepted and refused."""
    result = ProduceResult(sent=[], failed={})
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        response = sqs().send_message_batch(
            QueueUrl=QUEUE_URL,
            Entries=[{"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(chunk)],
        )
        result.sent.extend(chunk[int(ok["Id"])].id for ok in response.get("Successful", []))
        for refused in response.get("Failed", []):
            result.failed[chunk[int(refused["Id"])].id] = f"{refused.get('Code')}: {refused.get('Message', '')}"
    metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=len(result.sent))
    if result.failed:
        metrics.add_metric(name="MessagesRefused", unit=MetricUnit.Count, value=len(result.failed))
        logger.warning("SQS refused messages", extra={"failed": result.failed})
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return produce(parse(event)).model_dump()
