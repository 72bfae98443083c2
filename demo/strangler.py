"""StranglerDemo: a facade API in front of a legacy app (a function URL), with orders moving to a new service.

The legacy app is a real HTTP service (a Lambda function URL with its own table), reached over HTTP
exactly as on AWS; ``POST /orders`` has moved to the new service, which writes every order back to
the legacy table through the write-back queue and the legacy sync consumer. Migrating another route
is one more key in ``MIGRATED``.
"""

from __future__ import annotations

from collections.abc import Collection

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from demo._drive import DriveContext, DriveResult, HttpResponse
from patterns import core
from patterns.strangler import Strangler

#: The routes the new service serves in the demo; everything else is still the legacy app's.
MIGRATED = frozenset({"POST /orders"})
LEGACY_TIMEOUT = Duration.seconds(10)


def build(scope: Construct, stack_id: str, *, migrated: Collection[str] = MIGRATED) -> Stack:
    stack = Stack(
        scope,
        stack_id,
        description="CATALOG 16 Strangler: a facade routing to a legacy HTTP app or the new service, with write-back",
    )
    code = core.handler_code("strangler")
    legacy_table = core.table(stack, "LegacyTable", partition_key="pk")
    orders_table = core.table(stack, "OrdersTable", partition_key="order_id")
    legacy_app = core.python_function(
        stack,
        "LegacyApp",
        code=code,
        handler="legacy.handler",
        service="legacy-app",
        invocation="sync",
        description="The legacy app: an HTTP service (function URL) with its own table",
        environment={"LEGACY_TABLE_NAME": legacy_table.table_name},
    )
    legacy_table.grant_read_write_data(legacy_app)
    legacy_url = legacy_app.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    legacy_sync = core.python_function(
        stack,
        "LegacySync",
        code=code,
        handler="sync.handler",
        service="legacy-sync",
        invocation="sqs",
        description="Legacy side: applies the new service's write-back events to the legacy table",
        environment={"LEGACY_TABLE_NAME": legacy_table.table_name},
    )
    legacy_table.grant_write_data(legacy_sync)
    legacy = core.HttpBackend(url=legacy_url.url, timeout=LEGACY_TIMEOUT)
    facade = Strangler(
        stack,
        "Facade",
        routes=[
            core.Route(path="/orders/{id}", backend=legacy),
            core.Route(path="/orders", methods=("POST",), backend=legacy),
            core.Route(path="/customers/{id}", backend=legacy),
            core.Route(path="/inventory/{sku}", backend=legacy),
        ],
        migrated=migrated,
        new_service_code=code,
        new_service_handler="orders.handler",
        legacy_sync=legacy_sync,
        function_options=core.FunctionOptions(environment={"ORDERS_TABLE_NAME": orders_table.table_name}),
        api_options=core.ApiOptions(authorization_type=apigw.AuthorizationType.NONE),
    )
    orders_table.grant_read_write_data(facade.new_service)
    CfnOutput(stack, "FacadeUrl", value=facade.url)
    CfnOutput(stack, "RestApiId", value=facade.api.rest_api_id)
    CfnOutput(stack, "LegacyUrl", value=legacy_url.url)
    CfnOutput(stack, "LegacyTableName", value=legacy_table.table_name)
    CfnOutput(stack, "SyncQueueUrl", value=facade.sync_queue.queue_url)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """An order through the migrated POST route, then read back from the legacy app once written back."""
    base = ctx.outputs["FacadeUrl"].rstrip("/")
    order = {"order_id": "demo-1", "customer_id": "c-1", "total_cents": 1250}
    placed = ctx.http("POST", f"{base}/orders", order)
    customer = ctx.http("GET", f"{base}/customers/c-1")

    def synced() -> HttpResponse | None:
        reply = ctx.http("GET", f"{base}/orders/demo-1")
        return reply if reply.status == 200 else None

    legacy_view = ctx.wait_for(synced)
    written_back = {"ORDER_NO": "demo-1", "CUST_NO": "c-1", "AMOUNT": "12.50", "SOURCE": "new-service"}
    ok = (
        placed.status == 201
        and placed.body.get("served_by") == "new"
        and customer.status == 200
        and customer.body.get("served_by") == "legacy"
        and legacy_view is not None
        and legacy_view.body == {**written_back, "served_by": "legacy"}
    )
    steps = [
        f"POST /orders {placed.status}",
        f"GET /customers {customer.status}",
        f"legacy GET /orders {legacy_view.status if legacy_view else 'never 200'}",
    ]
    return DriveResult(sent="POST /orders (new), GET /customers, GET /orders (legacy)", outcome=", ".join(steps), ok=ok)
