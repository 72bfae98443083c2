"""Intake of the QueueLoadLeveling pattern: accept fast, process later.

``POST /requests`` assigns a request id, records it as pending, enqueues the work and answers
202 Accepted with the id and where to ask for its status. ``GET /requests/{requestId}`` answers
pending or done (404 for an id it never accepted). The pending record is written before the message
is sent, so the consumer always finds it; if the enqueue fails, the record is removed and the caller
is told to retry (503), so no request is reported as accepted that will never be processed.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from models import REQUEST_ID_PATTERN, RequestStatus, WorkItem

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()
status_table = boto3.resource("dynamodb").Table(os.environ["STATUS_TABLE_NAME"])
sqs = boto3.client("sqs")
QUEUE_URL = os.environ["QUEUE_URL"]
STATUS_TTL = timedelta(seconds=int(os.environ.get("STATUS_TTL_SECONDS", str(7 * 24 * 3600))))
#: SQS takes messages up to 256 KiB; the envelope (id, timestamp) needs a little of it.
MAX_BODY_BYTES = 250_000
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body),
                    headers=headers)


def accept(payload: dict[str, Any]) -> WorkItem | None:
    """Record the request as pending, then enqueue it. None when the queue refused it (nothing kept)."""
    now = datetime.now(UTC)
    item = WorkItem(requestId=str(uuid.uuid4()), receivedAt=now.isoformat(), payload=payload)
    status_table.put_item(
        Item={"requestId": item.requestId, "status": "pending", "receivedAt": item.receivedAt,
              "expiresAt": int((now + STATUS_TTL).timestamp())},
        ConditionExpression="attribute_not_exists(requestId)",
    )
    try:
        sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=item.model_dump_json())
    except ClientError:
        logger.exception("enqueue failed; the request is withdrawn", extra={"requestId": item.requestId})
        status_table.delete_item(Key={"requestId": item.requestId})
        metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
        return None
    metrics.add_metric(name="RequestsAccepted", unit=MetricUnit.Count, value=1)
    return item


def status_of(request_id: str) -> RequestStatus | None:
    if not _REQUEST_ID.match(request_id):
        return None
    found = status_table.get_item(Key={"requestId": request_id}, ConsistentRead=True).get("Item")
    return RequestStatus.model_validate(found) if found else None


def _status_location(request_id: str) -> tuple[str, str]:
    """The status resource as an absolute path (Location) and URL (statusUrl), as the caller reached us.

    ``requestContext.path`` carries the stage (or a custom domain's base path) in front of the route.
    """
    event = app.current_event
    context = event.request_context
    base = (context.path or event.path).removesuffix(event.path)
    location = f"{base}/requests/{request_id}"
    proto = event.headers.get("X-Forwarded-Proto") or event.headers.get("x-forwarded-proto") or "https"
    host = context.domain_name or event.headers.get("Host") or event.headers.get("host") or ""
    return location, f"{proto}://{host}{location}"


@app.post("/requests")
@tracer.capture_method
def post_request() -> Response:
    raw = app.current_event.decoded_body or ""
    if len(raw.encode()) > MAX_BODY_BYTES:
        return _json(413, {"message": f"the body must be at most {MAX_BODY_BYTES} bytes (given {len(raw.encode())})"})
    try:
        payload = json.loads(raw)
    except ValueError:
        return _json(400, {"message": "the body must be a JSON object"})
    if not isinstance(payload, dict) or not payload:
        return _json(400, {"message": "the body must be a non-empty JSON object"})
    item = accept(payload)
    if item is None:
        return _json(503, {"message": "the request could not be queued; retry later"}, {"Retry-After": "1"})
    location, url = _status_location(item.requestId)
    return _json(202, {"requestId": item.requestId, "status": "pending", "statusUrl": url}, {"Location": location})


@app.get("/requests/<request_id>")
@tracer.capture_method
def get_request(request_id: str) -> Response:
    status = status_of(request_id)
    if status is None:
        return _json(404, {"message": f"no request {request_id!r}"})
    return _json(200, status.model_dump(exclude_none=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
