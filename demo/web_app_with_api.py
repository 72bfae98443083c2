"""WebAppWithApiDemo: the item SPA and its API behind one CloudFront distribution."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.web_app_with_api import WebAppWithApi


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 18 WebAppWithApi: SPA (S3 + OAC) and API behind CloudFront")
    web = WebAppWithApi(
        stack, "Web",
        bucket_props={"removal_policy": RemovalPolicy.DESTROY, "auto_delete_objects": True},
        table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "SiteUrl", value=web.url)
    CfnOutput(stack, "DistributionId", value=web.distribution.distribution_id)
    CfnOutput(stack, "BucketName", value=web.bucket.bucket_name)
    CfnOutput(stack, "TableName", value=web.table.table_name)
    CfnOutput(stack, "RestApiId", value=web.api.rest_api_id)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """Load the page, add an item through /api/items on the same origin, list it; a client route
    falls back to the page; a nameless item is refused with 400."""
    site = ctx.outputs["SiteUrl"].rstrip("/")
    page = ctx.http("GET", f"{site}/")
    added = ctx.http("POST", f"{site}/api/items", {"name": "demo item"})
    listed = ctx.http("GET", f"{site}/api/items")
    route = ctx.http("GET", f"{site}/some/client/route")
    bad = ctx.http("POST", f"{site}/api/items", {"name": ""})
    names = [i["name"] for i in listed.body.get("items", [])] if isinstance(listed.body, dict) else []
    headers = {k.lower(): v for k, v in page.headers.items()}
    steps = [
        f"page {page.status}", f"POST {added.status}", f"list {listed.status} ({len(names)} items)",
        f"client route {route.status}", f"bad POST {bad.status}",
    ]
    ok = (
        page.status == 200 and isinstance(page.body, str) and 'id="items"' in page.body
        and "content-security-policy" in headers and "strict-transport-security" in headers
        and added.status == 201 and "demo item" in names
        and route.status == 200 and route.body == page.body
        and bad.status == 400
    )
    return DriveResult(sent="GET / + POST/GET /api/items via CloudFront", outcome=", ".join(steps), ok=ok)
