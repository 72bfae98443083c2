"""GatewayRouterDemo: one API key-protected REST API in front of three teams' backends.

``/v1`` and ``/v2`` orders are two Lambda functions side by side, the catalog is another team's HTTP
service (a function URL, reached over HTTP exactly as on AWS), feedback goes straight to an SQS
queue, and the ``Partner`` client has a small daily quota.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns import core
from patterns.gateway_router import ApiClient, GatewayRouter

#: Requests a day the demo's partner client may send (small, so the e2e test can exhaust it).
PARTNER_QUOTA = 5
#: The feedback route's own stage throttle: 5 requests/s, bursts of 2.
FEEDBACK_THROTTLE = (5.0, 2)
CATALOG_TIMEOUT = Duration.seconds(10)


def _team_function(stack: Stack, construct_id: str, handler: str, description: str, **env: str) -> lambda_.Function:
    return core.python_function(
        stack,
        construct_id,
        code=core.handler_code("gateway_router"),
        handler=handler,
        service=construct_id.lower(),
        invocation="sync",
        description=description,
        environment=env,
    )


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope,
        stack_id,
        description="CATALOG 14 GatewayRouter: REST API routing to Lambda v1/v2, an HTTP service and SQS",
    )
    orders_v1 = _team_function(stack, "OrdersV1", "orders.handler", "Orders service, contract v1", API_VERSION="v1")
    orders_v2 = _team_function(stack, "OrdersV2", "orders.handler", "Orders service, contract v2", API_VERSION="v2")
    catalog = _team_function(stack, "Catalog", "catalog.handler", "Catalog service, an HTTP service (function URL)")
    catalog_url = catalog.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    feedback = core.queue_with_dlq(stack, "Feedback")
    router = GatewayRouter(
        stack,
        "Gateway",
        routes=[
            core.Route(path="/v1/orders/{id}", backend=orders_v1),
            core.Route(path="/v2/orders/{id}", backend=orders_v2),
            core.Route(
                path="/v1/catalog/{proxy+}",
                methods=("ANY",),
                backend=core.HttpBackend(url=catalog_url.url, path="/catalog/{proxy+}", timeout=CATALOG_TIMEOUT),
            ),
            core.Route(
                path="/v1/feedback",
                methods=("POST",),
                backend=core.QueueBackend(queue=feedback.queue),
                throttle=FEEDBACK_THROTTLE,
                required_parameters=("header.x-request-id",),
            ),
        ],
        clients=[ApiClient(name="Web"), ApiClient(name="Partner", quota_per_day=PARTNER_QUOTA)],
    )
    CfnOutput(stack, "GatewayUrl", value=router.url)
    CfnOutput(stack, "RestApiId", value=router.api.rest_api_id)
    CfnOutput(stack, "WebKeyId", value=router.keys["Web"].key_id)
    CfnOutput(stack, "PartnerKeyId", value=router.keys["Partner"].key_id)
    CfnOutput(stack, "FeedbackQueueUrl", value=feedback.queue.queue_url)
    CfnOutput(stack, "CatalogUrl", value=catalog_url.url)
    return stack


def api_key(ctx: DriveContext, key_id: str) -> str:
    """A deployed API key's value (what a client is given out of band)."""
    return str(ctx.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"])


def drive(ctx: DriveContext) -> DriveResult:
    """v1 and v2 orders, the catalog over HTTP and feedback into SQS; no key → 403, an unknown route → 404."""
    base = ctx.outputs["GatewayUrl"].rstrip("/")
    key = {"x-api-key": api_key(ctx, ctx.outputs["WebKeyId"])}
    v1 = ctx.http("GET", f"{base}/v1/orders/o-1", headers=key)
    v2 = ctx.http("GET", f"{base}/v2/orders/o-1", headers=key)
    item = ctx.http("GET", f"{base}/v1/catalog/items/kettle", headers=key)
    sent = ctx.http("POST", f"{base}/v1/feedback", {"stars": 5}, headers={**key, "x-request-id": "demo-1"})
    no_key = ctx.http("GET", f"{base}/v1/orders/o-1")
    unknown = ctx.http("GET", f"{base}/v3/orders/o-1", headers=key)
    steps = [
        f"v1 {v1.status}",
        f"v2 {v2.status}",
        f"catalog {item.status}",
        f"feedback {sent.status}",
        f"no key {no_key.status}",
        f"unknown route {unknown.status}",
    ]
    ok = (
        v1.status == 200
        and v1.body.get("version") == "v1"
        and v2.status == 200
        and v2.body.get("total_cents") == 1250
        and item.status == 200
        and item.body.get("sku") == "kettle"
        and sent.status == 202
        and bool(sent.body.get("messageId"))
        and no_key.status == 403
        and unknown.status == 404
    )
    return DriveResult(sent="GET /v1,/v2 orders, /v1/catalog, POST /v1/feedback", outcome=", ".join(steps), ok=ok)
