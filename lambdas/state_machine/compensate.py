"""Compensation step of the error path: cancels a RESERVED order and records why.

Runs whenever a step after the reservation failed past its retries. A PAID order is never
cancelled here (the payment is real and must be refunded by a person); an order that was never
reserved is left absent. The transition is conditional, so running it twice changes nothing.
"""

from typing import Any

import orders
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, ValidationError

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class InvalidCompensation(Exception):
    """The step's input lacks the order id or the error."""


class Failure(BaseModel):
    Error: str
    Cause: str = ""


class CompensateRequest(BaseModel):
    order_id: str = Field(min_length=1)
    execution: str = Field(min_length=1)
    error: Failure


def compensate(request: CompensateRequest) -> dict[str, Any]:
    try:
        orders.table().update_item(
            Key={"order_id": request.order_id},
            UpdateExpression="SET #s = :cancelled, failure = :f",
            ConditionExpression="#s = :reserved AND #e = :e",
            ExpressionAttributeNames={"#s": "status", "#e": "execution"},
            ExpressionAttributeValues={
                ":cancelled": "CANCELLED",
                ":reserved": "RESERVED",
                ":e": request.execution,
                ":f": {"error": request.error.Error, "cause": request.error.Cause[:1000]},
            },
        )
    except ClientError as error:
        if not orders.conditional_failed(error):
            raise
        existing = orders.get(request.order_id)
        status = existing.get("status") if existing else "ABSENT"
        logger.warning("nothing to cancel", order_id=request.order_id, status=status)
        return {"order_id": request.order_id, "status": status}
    return {"order_id": request.order_id, "status": "CANCELLED"}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = CompensateRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidCompensation(str(error.errors(include_url=False))) from None
    result = compensate(request)
    metrics.add_metric(name="OrdersCompensated", unit=MetricUnit.Count, value=1)
    return result
