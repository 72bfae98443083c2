"""SagaDemo: a trip booked through the saga, and its bookings read back from the three services."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.saga import Saga

#: Output name of each service's table.
TABLE_OUTPUTS = {"Flights": "FlightsTableName", "Hotels": "HotelsTableName", "Payments": "PaymentsTableName"}


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope,
        stack_id,
        description="CATALOG 26 Saga: trip booking over flight, hotel and payment with reverse-order compensation",
    )
    destroy = {"removal_policy": RemovalPolicy.DESTROY}
    pattern = Saga(
        stack, "Trips", flights_table_props=destroy, hotels_table_props=destroy, payments_table_props=destroy
    )
    CfnOutput(stack, "StateMachineArn", value=pattern.state_machine.state_machine_arn)
    CfnOutput(stack, "AlertTopicArn", value=pattern.alert_topic.topic_arn)
    for service, output in TABLE_OUTPUTS.items():
        CfnOutput(stack, output, value=pattern.tables[service].table_name)
    return stack


def trip(trip_id: str, **simulate: Any) -> dict[str, Any]:
    """A flight (189.00) and three hotel nights (360.00): 54900 cents; ``simulate`` injects provider faults."""
    return {
        "trip_id": trip_id,
        "customer": "ana",
        "flight": {"number": "LH1234", "price_cents": 18900},
        "hotel": {"hotel_id": "lisbon-alfama", "nights": 3, "price_cents": 36000},
        "card": "visa-4242",
        "simulate": simulate,
    }


def start(ctx: DriveContext, booking: dict[str, Any], name: str | None = None) -> str:
    """Start one saga for ``booking``; the execution ARN."""
    response = ctx.client("stepfunctions").start_execution(
        stateMachineArn=ctx.outputs["StateMachineArn"],
        name=name or f"{booking['trip_id']}-{uuid.uuid4().hex[:8]}",
        input=json.dumps(booking),
    )
    return str(response["executionArn"])


def bookings(ctx: DriveContext, trip_id: str) -> dict[str, dict[str, Any] | None]:
    """The trip's item in each service's table (numbers as int), or None where it has none."""
    from boto3.dynamodb.types import TypeDeserializer

    found: dict[str, dict[str, Any] | None] = {}
    for service, output in TABLE_OUTPUTS.items():
        item = (
            ctx.client("dynamodb")
            .get_item(TableName=ctx.outputs[output], Key={"trip_id": {"S": trip_id}}, ConsistentRead=True)
            .get("Item")
        )
        plain = {k: TypeDeserializer().deserialize(v) for k, v in (item or {}).items()}
        found[service] = {k: int(v) if k.endswith(("_cents", "nights")) else v for k, v in plain.items()} or None
    return found


def finished(ctx: DriveContext, execution_arn: str) -> dict[str, Any] | None:
    """The execution once it has ended, else None."""
    described = ctx.client("stepfunctions").describe_execution(executionArn=execution_arn)
    return dict(described) if described["status"] != "RUNNING" else None


def drive(ctx: DriveContext) -> DriveResult:
    """One trip booked (all three services hold it) and one whose payment is declined (all undone)."""
    trip_id = f"demo-{uuid.uuid4().hex[:8]}"
    booked_arn = start(ctx, trip(trip_id))
    declined_arn = start(ctx, trip(f"{trip_id}-d", refuse="TakePayment"))
    booked = ctx.wait_for(lambda: finished(ctx, booked_arn), timeout=60)
    declined = ctx.wait_for(lambda: finished(ctx, declined_arn), timeout=60)
    held = {k: (v or {}).get("status") for k, v in bookings(ctx, trip_id).items()}
    undone = {k: (v or {}).get("status") for k, v in bookings(ctx, f"{trip_id}-d").items()}
    return DriveResult(
        sent="two trips: one booked, one with a declined card",
        outcome=f"booked → {(booked or {}).get('status')} {held}; declined → {(declined or {}).get('status')} {undone}",
        ok=bool(booked and declined)
        and booked["status"] == "SUCCEEDED"
        and held == {"Flights": "RESERVED", "Hotels": "RESERVED", "Payments": "CHARGED"}
        and declined["status"] == "FAILED"
        and undone == {"Flights": "CANCELLED", "Hotels": "CANCELLED", "Payments": None},
    )
