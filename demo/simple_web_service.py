"""SimpleWebServiceDemo: an item API (CRUD + list) backed by one table."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult, HttpResponse
from patterns.simple_web_service import SimpleWebService


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 1 SimpleWebService: REST API -> Lambda -> DynamoDB")
    service = SimpleWebService(stack, "Items", table_props={"removal_policy": RemovalPolicy.DESTROY})
    CfnOutput(stack, "ItemsUrl", value=service.url)
    CfnOutput(stack, "RestApiId", value=service.api.rest_api_id)
    CfnOutput(stack, "TableName", value=service.table.table_name)
    return stack


def _find_in_list(ctx: DriveContext, url: str, item_id: str) -> tuple[HttpResponse, list[str]]:
    """Walk ``GET /items`` page by page until the item shows up or the pages end."""
    seen: list[str] = []
    token = ""
    for _ in range(100):
        page = ctx.http("GET", f"{url}?limit=25" + (f"&next_token={token}" if token else ""))
        if page.status != 200 or not isinstance(page.body, dict):
            return page, seen
        seen += [i["id"] for i in page.body.get("items", [])]
        token = page.body.get("next_token") or ""
        if item_id in seen or not token:
            return page, seen
    return page, seen


def drive(ctx: DriveContext) -> DriveResult:
    """Create, read, update, list and delete one item; a body without a name is refused with 400."""
    url = ctx.outputs["ItemsUrl"].rstrip("/")
    steps: list[str] = []
    created = ctx.http("POST", url, {"name": "demo widget", "quantity": 1})
    steps.append(f"POST {created.status}")
    item_id = created.body.get("id") if isinstance(created.body, dict) else None
    if created.status != 201 or not item_id:
        return DriveResult(sent="POST /items", outcome=f"create failed: {created.status} {created.body}", ok=False)
    got = ctx.http("GET", f"{url}/{item_id}")
    updated = ctx.http("PUT", f"{url}/{item_id}", {"name": "demo widget", "quantity": 2})
    listed, listed_ids = _find_in_list(ctx, url, item_id)
    bad = ctx.http("POST", url, {"quantity": 3})
    deleted = ctx.http("DELETE", f"{url}/{item_id}")
    gone = ctx.http("GET", f"{url}/{item_id}")
    steps += [
        f"GET {got.status}", f"PUT {updated.status}", f"LIST {listed.status}", f"bad POST {bad.status}",
        f"DELETE {deleted.status}", f"GET after delete {gone.status}",
    ]
    ok = (
        got.status == 200 and got.body.get("name") == "demo widget"
        and updated.status == 200 and updated.body.get("quantity") == 2
        and listed.status == 200 and item_id in listed_ids
        and bad.status == 400
        and deleted.status == 204 and gone.status == 404
    )
    return DriveResult(sent="POST/GET/PUT/GET list/DELETE /items", outcome=", ".join(steps), ok=ok)
