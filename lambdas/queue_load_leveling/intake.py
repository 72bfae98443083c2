"""Intake of the QueueLoadLeveling pattern: accept fast, process later.

``POST /requests`` assigns a request id, records it as pending, enqueues the work and answers
202 Accepted with the id and where to ask for its status. ``GET /requests/{requestId}`` answers
pending or done (404 for an id it never accepted). The pending record is written before the message
is sent, so the consumer always finds it; if the enqueue fails, the record is removed and the caller
is told to retry (503), so no request is reported as accepted that will never be processed.

A sender that retries a POST (its own timeout, a dropped connection) sends the same request again.
With an ``Idempotency-Key`` header (IETF draft-ietf-httpapi-idempotency-key-header) the retry is not a
second request: the same key and body answer the original request id and its current status, marked
``Idempotent-Replayed: true``, and enqueue nothing; the same key with another body is 422; a key whose
first request is still being accepted is 409. Keys are scoped to the caller (its IAM identity) and
kept in the status table (``requestId`` ``idempotency-key#<sha256>``, never a UUID, so GET cannot
reach them) for as long as the statuses, then expire with them.
"""

from __future__ import annotations

import functools
import hashlib
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
STATUS_TABLE_NAME = os.environ["STATUS_TABLE_NAME"]


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def status_table() -> Any:
    return boto3.resource("dynamodb").Table(STATUS_TABLE_NAME)


@functools.cache
def sqs() -> Any:
    return boto3.client("sqs")


QUEUE_URL = os.environ["QUEUE_URL"]
STATUS_TTL = timedelta(seconds=int(os.environ.get("STATUS_TTL_SECONDS", str(7 * 24 * 3600))))
#: SQS takes messages up to 256 KiB; the envelope (id, timestamp) needs a little of it.
MAX_BODY_BYTES = 250_000
#: The draft leaves the length open; 255 covers UUIDs, ULIDs and hashes with room to spare.
MAX_KEY_LENGTH = 255
IDEMPOTENCY_HEADER = "idempotency-key"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body),
                    headers=headers)


class KeyReused(Exception):
    """The Idempotency-Key names an earlier request; ``original`` is its status, None while it is accepted."""

    def __init__(self, *, request_id: str, same_body: bool, original: RequestStatus | None) -> None:
        super().__init__(request_id)
        self.request_id, self.same_body, self.original = request_id, same_body, original


def _claim_key(key: str | None, fingerprint: str, request_id: str, expires_at: int) -> str | None:
    """Bind ``key`` to ``request_id``, or raise KeyReused when the key is bound already. The key record's id."""
    if key is None:
        return None
    record_id = "idempotency-key#" + hashlib.sha256(key.encode()).hexdigest()
    try:
        status_table().put_item(
            Item={"requestId": record_id, "target": request_id, "fingerprint": fingerprint, "expiresAt": expires_at},
            ConditionExpression="attribute_not_exists(requestId)",
        )
        return record_id
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    bound = status_table().get_item(Key={"requestId": record_id}, ConsistentRead=True)["Item"]
    target = str(bound["target"])
    raise KeyReused(request_id=target, same_body=bound["fingerprint"] == fingerprint, original=status_of(target))


def accept(payload: dict[str, Any], key: str | None = None, fingerprint: str = "") -> WorkItem | None:
    """Record the request as pending, then enqueue it. None when the queue refused it (nothing kept).

    With ``key`` (the caller-scoped Idempotency-Key) the key is bound to the new request first; a key
    already bound raises KeyReused and nothing is recorded or enqueued.
    """
    now = datetime.now(UTC)
    item = WorkItem(requestId=str(uuid.uuid4()), receivedAt=now.isoformat(), payload=payload)
    expires_at = int((now + STATUS_TTL).timestamp())
    key_record = _claim_key(key, fingerprint, item.requestId, expires_at)
    status_table().put_item(
        Item={"requestId": item.requestId, "status": "pending", "receivedAt": item.receivedAt,
              "expiresAt": expires_at},
        ConditionExpression="attribute_not_exists(requestId)",
    )
    try:
        sqs().send_message(QueueUrl=QUEUE_URL, MessageBody=item.model_dump_json())
    except ClientError:
        logger.exception("enqueue failed; the request is withdrawn", extra={"requestId": item.requestId})
        status_table().delete_item(Key={"requestId": item.requestId})
        if key_record:  # the key was not used: a retry with it must be accepted
            status_table().delete_item(Key={"requestId": key_record})
        metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
        return None
    metrics.add_metric(name="RequestsAccepted", unit=MetricUnit.Count, value=1)
    return item


def status_of(request_id: str) -> RequestStatus | None:
    if not _REQUEST_ID.match(request_id):
        return None
    found = status_table().get_item(Key={"requestId": request_id}, ConsistentRead=True).get("Item")
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


def _header(name: str) -> str | None:
    """A request header, matched case-insensitively as HTTP requires."""
    return next((v for k, v in (app.current_event.headers or {}).items() if k.lower() == name), None)


def _idempotency_key() -> str | None:
    """The caller-scoped Idempotency-Key, or None without one. Raises ValueError for an unusable one.

    The draft makes the value a structured-field string (``"abc"``); a bare token is accepted too, as
    most senders write it.
    """
    raw = _header(IDEMPOTENCY_HEADER)
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not 0 < len(value) <= MAX_KEY_LENGTH or not value.isprintable():
        raise ValueError(f"the Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters")
    identity = app.current_event.request_context.identity
    caller = identity.user_arn or identity.caller or identity.account_id or ""
    return f"{caller}\n{value}"


def _replay(reused: KeyReused) -> Response:
    """The answer to a retried request: the original's, or why there is none."""
    if not reused.same_body:
        return _json(422, {"message": "this Idempotency-Key was used for a request with another body: "
                                      "use a new key for a new request"})
    if reused.original is None:
        return _json(409, {"message": "the request with this Idempotency-Key is still being accepted; retry"},
                     {"Retry-After": "1"})
    location, url = _status_location(reused.request_id)
    body = {"requestId": reused.request_id, "status": reused.original.status, "statusUrl": url}
    return _json(202, body, {"Location": location, "Idempotent-Replayed": "true"})


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
    try:
        key = _idempotency_key()
    except ValueError as error:
        return _json(400, {"message": str(error)})
    try:
        item = accept(payload, key, hashlib.sha256(raw.encode()).hexdigest())
    except KeyReused as reused:
        metrics.add_metric(name="RequestsReplayed", unit=MetricUnit.Count, value=1)
        return _replay(reused)
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
