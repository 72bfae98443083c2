"""MicroservicesDemo: the orders and catalog services in their own stacks, under one custom domain.

``MicroservicesOrders`` and ``MicroservicesCatalog`` each own an API, a function and a table and deploy
on their own (``cdk deploy MicroservicesCatalog``); ``MicroservicesDemo`` is the shared entry stack
(the custom domain and its base paths ``/orders`` and ``/catalog``). An order placed at ``/orders``
is published as ``orders.created``; the catalog counts ordered quantities on its product from that
event, never from the orders table.

On AWS pass your own domain: ``cdk deploy --all -c microservices_domain=api.example.org`` (and
``-c microservices_certificate_arn=arn:...`` for an existing certificate; without one the entry
stack waits for the new certificate's DNS validation record).
"""

from __future__ import annotations

import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.microservices import Microservice, ServiceDomain, ServiceSubscription

DOMAIN = "api.microservices.example.com"
ORDERS_STACK = "MicroservicesOrders"
CATALOG_STACK = "MicroservicesCatalog"

#: What ``POST /orders`` takes: a product of the catalog and how many.
ORDER_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="Order",
    type=apigw.JsonSchemaType.OBJECT,
    required=["product_id", "quantity"],
    additional_properties=False,
    properties={
        "product_id": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
        "quantity": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1, maximum=1000),
    },
)
#: What ``POST /catalog`` takes: a product.
PRODUCT_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="Product",
    type=apigw.JsonSchemaType.OBJECT,
    required=["name", "price"],
    additional_properties=False,
    properties={
        "name": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=200),
        "price": apigw.JsonSchema(type=apigw.JsonSchemaType.NUMBER, minimum=0),
    },
)


def build(scope: Construct, stack_id: str) -> Stack:
    domain_name = scope.node.try_get_context("microservices_domain") or DOMAIN
    certificate_arn = scope.node.try_get_context("microservices_certificate_arn")
    destroy = {"removal_policy": RemovalPolicy.DESTROY}

    orders_stack = Stack(scope, ORDERS_STACK, description="CATALOG 20 Microservices: the orders service")
    orders = Microservice(orders_stack, "Orders", name="orders", item_schema=ORDER_SCHEMA, table_props=destroy)
    catalog_stack = Stack(scope, CATALOG_STACK, description="CATALOG 20 Microservices: the catalog service")
    catalog = Microservice(
        catalog_stack, "Catalog", name="catalog", item_schema=PRODUCT_SCHEMA, table_props=destroy,
        publish_events=False,
        subscriptions=[ServiceSubscription(
            source="orders", detail_type=orders.detail_type, item_id_field="product_id", counter="ordered",
            amount_field="quantity",
        )],
    )
    for stack, service in ((orders_stack, orders), (catalog_stack, catalog)):
        CfnOutput(stack, "TableName", value=service.table.table_name)
        CfnOutput(stack, "RestApiId", value=service.api.rest_api_id)
        CfnOutput(stack, "FunctionName", value=service.function.function_name)

    entry = Stack(scope, stack_id, description="CATALOG 20 Microservices: the shared entry (custom domain)")
    certificate = (
        acm.Certificate.from_certificate_arn(entry, "Certificate", certificate_arn) if certificate_arn else None
    )
    domain = ServiceDomain(entry, "Entry", domain_name=domain_name, services=[orders, catalog], certificate=certificate)
    CfnOutput(entry, "BaseUrl", value=domain.url)
    CfnOutput(entry, "OrdersUrl", value=domain.url_for(orders))
    CfnOutput(entry, "CatalogUrl", value=domain.url_for(catalog))
    CfnOutput(entry, "RegionalDomainName", value=domain.domain.domain_name_alias_domain_name)
    return entry


def drive(ctx: DriveContext) -> DriveResult:
    """Add a product at /catalog, order 2 of it at /orders: the catalog counts 2 from the orders event."""
    catalog, orders = ctx.outputs["CatalogUrl"], ctx.outputs["OrdersUrl"]
    product = ctx.http("POST", catalog, {"name": f"kettle {uuid.uuid4().hex[:6]}", "price": 25})
    if product.status != 201:
        return DriveResult(sent="POST /catalog", outcome=f"{product.status} {product.body}", ok=False)
    product_id = product.body["id"]
    order = ctx.http("POST", orders, {"product_id": product_id, "quantity": 2})
    if order.status != 201:
        return DriveResult(sent="POST /orders", outcome=f"{order.status} {order.body}", ok=False)

    def counted() -> int | None:
        got = ctx.http("GET", f"{catalog}/{product_id}")
        return int(got.body.get("ordered", 0)) if got.status == 200 and got.body.get("ordered") else None

    ordered = ctx.wait_for(counted, timeout=30)
    stored = ctx.http("GET", f"{orders}/{order.body['id']}")
    return DriveResult(
        sent="POST /catalog, POST /orders (2 of it)",
        outcome=f"order {stored.status}, catalog counted ordered={ordered}",
        ok=stored.status == 200 and ordered == 2,
    )
