"""GraphQlEndpointDemo: a GraphQL API of items read with an API key and written by Cognito users."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.graphql_endpoint import GraphQlEndpoint

GROUP = "editors"
ADD_ITEM = "mutation Add($input: NewItem!) { addItem(input: $input) { id name owner priceCents createdAt } }"
ITEM = "query Item($id: ID!) { item(id: $id) { id name priceLabel notes } }"
ITEMS_BY_OWNER = (
    "query ByOwner($owner: String!, $limit: Int, $next: String) { "
    "itemsByOwner(owner: $owner, limit: $limit, nextToken: $next) { items { id name } nextToken } }"
)


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 19 GraphQlEndpoint: AppSync GraphQL API -> DynamoDB resolvers + a Lambda field",
    )
    endpoint = GraphQlEndpoint(
        stack, "Items",
        restricted_group=GROUP,
        table_props={"removal_policy": RemovalPolicy.DESTROY},
        user_pool_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    client = endpoint.user_pool.add_client(
        "DemoClient", auth_flows=cognito.AuthFlow(admin_user_password=True), generate_secret=False
    )
    CfnOutput(stack, "GraphQlUrl", value=endpoint.api.graphql_url)
    CfnOutput(stack, "ApiId", value=endpoint.api.api_id)
    CfnOutput(stack, "ApiKey", value=endpoint.api_key)
    CfnOutput(stack, "UserPoolId", value=endpoint.user_pool.user_pool_id)
    CfnOutput(stack, "UserPoolClientId", value=client.user_pool_client_id)
    CfnOutput(stack, "TableName", value=endpoint.table.table_name)
    return stack


def sign_in(ctx: DriveContext, username: str, *, groups: tuple[str, ...] = ()) -> str:
    """Create a confirmed user (in ``groups``) in the demo pool and return its ID token."""
    idp = ctx.client("cognito-idp")
    pool, password = ctx.outputs["UserPoolId"], "Aa1!" + secrets.token_urlsafe(16)
    idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    result = idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=ctx.outputs["UserPoolClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def graphql(ctx: DriveContext, query: str, variables: dict[str, Any] | None = None, **headers: str) -> Any:
    """POST one GraphQL request; the HTTP status and the JSON body (data and errors)."""
    return ctx.http("POST", ctx.outputs["GraphQlUrl"], {"query": query, "variables": variables or {}}, headers)


def drive(ctx: DriveContext) -> DriveResult:
    """An editor adds an item; a reader with the API key reads it back with its computed price label but
    is refused its notes; the editor reads the notes."""
    editor = sign_in(ctx, f"editor-{uuid.uuid4().hex[:8]}", groups=(GROUP,))
    owner = f"demo-{uuid.uuid4().hex[:8]}"
    added = graphql(
        ctx, ADD_ITEM, {"input": {"name": "kettle", "owner": owner, "priceCents": 2599, "notes": "supplier: acme"}},
        Authorization=editor,
    )
    item = ((added.body or {}).get("data") or {}).get("addItem") or {}
    as_reader = graphql(ctx, ITEM, {"id": item.get("id", "")}, **{"x-api-key": ctx.outputs["ApiKey"]}).body or {}
    as_editor = graphql(ctx, ITEM, {"id": item.get("id", "")}, Authorization=editor).body or {}
    read = (as_reader.get("data") or {}).get("item") or {}
    refused = [e.get("errorType") for e in as_reader.get("errors") or []]
    notes = ((as_editor.get("data") or {}).get("item") or {}).get("notes")
    ok = read.get("priceLabel") == "€25.99" and read.get("notes") is None and refused == ["Unauthorized"]
    return DriveResult(
        sent="addItem (Cognito editor), item (API key), item (editor)",
        outcome=f"priceLabel={read.get('priceLabel')}, reader notes refused ({','.join(refused) or 'no error'}), "
        f"editor notes={notes!r}",
        ok=ok and notes == "supplier: acme",
    )
