"""Rung 1 for CATALOG 20 Microservices: per-service stacks that own their tables, one entry domain.

The IAM boundary between services is asserted here, on the templates: the local cloud does not
evaluate IAM policies (it accepts every call), so "a service's role cannot touch the other's
table" is proven by what the roles are granted, not by a refused call.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from demo import microservices as demo
from patterns import core
from patterns.microservices import TABLE_ACTIONS, Microservice, ServiceDomain, ServiceSubscription
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set

SUBSCRIPTION = ServiceSubscription(source="orders", detail_type="orders.created", item_id_field="product_id",
                                   counter="ordered", amount_field="quantity")


class Built(_helpers.Built[Microservice]):
    pass


@pytest.fixture(scope="module")
def app_stacks() -> dict[str, Any]:
    """The demo's three stacks and a few variants, in one App (one synth for the module)."""
    app = new_app()
    entry = demo.build(app, "MicroservicesDemo")
    stacks = {s.stack_name: s for s in app.node.children if isinstance(s, Stack)}
    orders = stacks[demo.ORDERS_STACK].node.find_child("Orders")
    catalog = stacks[demo.CATALOG_STACK].node.find_child("Catalog")
    existing = Stack(app, "Existing")
    shared = ddb.Table.from_table_name(existing, "Mine", "my-orders")
    with_existing = Microservice(existing, "Svc", name="billing", existing_table=shared, publish_events=False)
    swapped = Stack(app, "Swapped")
    custom = Microservice(
        swapped, "Svc", name="shop", base_path="shop/v2", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        api_options=core.ApiOptions(stage_name="v1", authorization_type=apigw.AuthorizationType.NONE),
    )
    deep = ServiceDomain(
        swapped, "Domain", domain_name="shop.example.com", services=[custom],
        certificate=acm.Certificate.from_certificate_arn(
            swapped, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/abc"
        ),
    )
    templates = {name: Template.from_stack(stack).to_json() for name, stack in {**stacks, "Existing": existing,
                                                                                   "Swapped": swapped}.items()}
    return {
        "templates": templates, "entry": entry, "orders": orders, "catalog": catalog,
        "existing": Built(existing, with_existing, Template.from_stack(existing)),
        "swapped": Built(swapped, custom, Template.from_stack(swapped)), "deep": deep,
        "orders_built": Built(stacks[demo.ORDERS_STACK], orders, Template.from_stack(stacks[demo.ORDERS_STACK])),
        "catalog_built": Built(stacks[demo.CATALOG_STACK], catalog, Template.from_stack(stacks[demo.CATALOG_STACK])),
    }


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# --- each service owns its API, function and table ---------------------------------------------


def test_each_service_stack_owns_exactly_one_table_api_and_function(app_stacks) -> None:
    for name in (demo.ORDERS_STACK, demo.CATALOG_STACK):
        template = app_stacks["templates"][name]
        assert len(_of_type(template, "AWS::DynamoDB::Table")) == 1
        assert len(_of_type(template, "AWS::ApiGateway::RestApi")) == 1
        assert len(_of_type(template, "AWS::Lambda::Function")) == 1
    entry = app_stacks["templates"]["MicroservicesDemo"]
    assert not _of_type(entry, "AWS::DynamoDB::Table") and not _of_type(entry, "AWS::Lambda::Function")


def test_service_stacks_reference_no_other_stack_so_each_deploys_on_its_own(app_stacks) -> None:
    for name in (demo.ORDERS_STACK, demo.CATALOG_STACK):
        rendered = json.dumps(app_stacks["templates"][name])
        assert "Fn::ImportValue" not in rendered and "Fn::GetStackOutput" not in rendered
    # AND the entry reads the services' API ids and stages as weak references (cdk.json's
    # defaultCrossStackReferences: weak): no export pins a service stack to the entry
    entry = json.dumps(app_stacks["templates"]["MicroservicesDemo"])
    assert "Fn::ImportValue" not in entry
    assert entry.count('"Fn::GetStackOutput"') == 4  # two REST API ids and two stage names


def test_a_services_role_can_touch_only_its_own_table(app_stacks) -> None:
    # GIVEN both service stacks
    for own, other in (("orders_built", "catalog_built"), ("catalog_built", "orders_built")):
        built: Built = app_stacks[own]
        statements = built.statements(built.pattern.function.role)
        table_statements = [s for s in statements if any(a.startswith("dynamodb:") for a in action_set(s))]
        # THEN its DynamoDB grant is exactly the handler's actions on its own table's ARN
        assert [action_set(s) for s in table_statements] == [set(TABLE_ACTIONS)]
        resources = table_statements[0]["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert resources == [built.arn(built.pattern.table)]
        # AND nothing in its policies names a resource outside its stack (no import, no wildcard table)
        rendered = json.dumps(statements)
        assert "Fn::ImportValue" not in rendered and "dynamodb:*" not in rendered
        assert app_stacks[other].pattern.table.node.path not in rendered
        assert not any(s.get("Resource") == "*" and action_set(s) & {a for a in TABLE_ACTIONS} for s in statements)


def test_orders_publish_to_the_default_bus_and_the_catalog_subscribes_with_a_dlq(app_stacks) -> None:
    orders: Built = app_stacks["orders_built"]
    puts = [s for s in orders.statements(orders.pattern.function.role) if "events:PutEvents" in action_set(s)]
    assert len(puts) == 1 and "event-bus/default" in json.dumps(puts[0]["Resource"])
    catalog: Built = app_stacks["catalog_built"]
    rules = catalog.resources("AWS::Events::Rule")
    assert len(rules) == 1
    rule = next(iter(rules.values()))["Properties"]
    assert rule["EventPattern"] == {"source": ["orders"], "detail-type": ["orders.created"]}
    target = rule["Targets"][0]
    assert target["DeadLetterConfig"]["Arn"] == catalog.arn(catalog.pattern.dead_letter_queue)
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert not [s for s in catalog.statements(catalog.pattern.function.role) if "events:PutEvents" in action_set(s)]


def test_the_handler_is_wired_with_its_service_and_subscriptions(app_stacks) -> None:
    catalog: Built = app_stacks["catalog_built"]
    env = catalog.env(catalog.pattern.function)
    assert env["SERVICE_NAME"] == "catalog" and env["BASE_PATH"] == "/catalog" and env["EVENT_BUS_NAME"] == ""
    assert json.loads(env["SUBSCRIPTIONS"]) == [SUBSCRIPTION.to_json()]
    assert env["TABLE_NAME"] == catalog.ref(catalog.pattern.table)


def test_the_api_validates_bodies_and_uses_iam_by_default(app_stacks) -> None:
    orders: Built = app_stacks["orders_built"]
    methods = [r["Properties"] for r in orders.resources("AWS::ApiGateway::Method").values()]
    assert sorted(m["HttpMethod"] for m in methods) == ["GET", "GET", "POST"]
    assert {m["AuthorizationType"] for m in methods} == {"AWS_IAM"}
    post = next(m for m in methods if m["HttpMethod"] == "POST")
    assert post["RequestModels"] == {"application/json": orders.ref(orders.pattern.model)}
    schema = orders.props(orders.pattern.model)["Schema"]
    assert schema["required"] == ["product_id", "quantity"] and schema["additionalProperties"] is False


# --- the shared entry ------------------------------------------------------------------------------


def test_the_entry_maps_each_service_at_its_base_path_on_a_regional_tls12_domain(app_stacks) -> None:
    entry = app_stacks["templates"]["MicroservicesDemo"]
    (domain,) = _of_type(entry, "AWS::ApiGateway::DomainName").values()
    assert domain["Properties"]["DomainName"] == demo.DOMAIN
    assert domain["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    (certificate,) = _of_type(entry, "AWS::CertificateManager::Certificate").values()
    assert certificate["Properties"]["ValidationMethod"] == "DNS"
    mappings = sorted(m["Properties"]["BasePath"] for m in _of_type(entry, "AWS::ApiGateway::BasePathMapping").values())
    assert mappings == ["catalog", "orders"]


def test_a_multi_level_base_path_becomes_an_api_mapping_and_an_existing_certificate_is_used(app_stacks) -> None:
    swapped = app_stacks["templates"]["Swapped"]
    (mapping,) = _of_type(swapped, "AWS::ApiGatewayV2::ApiMapping").values()
    assert mapping["Properties"]["ApiMappingKey"] == "shop/v2"
    assert not _of_type(swapped, "AWS::CertificateManager::Certificate")
    assert app_stacks["deep"].url_for(app_stacks["swapped"].pattern) == "https://shop.example.com/shop/v2"


def test_existing_table_is_used_and_no_table_is_created(app_stacks) -> None:
    built: Built = app_stacks["existing"]
    assert not built.resources("AWS::DynamoDB::Table")
    env = built.env(built.pattern.function)
    assert env["TABLE_NAME"] == "my-orders" and env["EVENT_BUS_NAME"] == ""
    assert not built.pattern.rules and built.pattern.dead_letter_queue is None


def test_swapped_handler_stage_and_authorization_reach_the_template(app_stacks) -> None:
    built: Built = app_stacks["swapped"]
    function = built.props(built.pattern.function)
    assert function["Handler"] == "index.handler"
    assert built.env(built.pattern.function)["BASE_PATH"] == "/shop/v2"
    (stage,) = built.resources("AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == "v1"
    assert {m["Properties"]["AuthorizationType"] for m in built.resources("AWS::ApiGateway::Method").values()} == {
        "NONE"
    }


# --- invalid props ---------------------------------------------------------------------------------


def _service(**props: Any) -> Microservice:
    return Microservice(Stack(new_app(), "S"), "Svc", **{"name": "orders", **props})


@pytest.mark.parametrize("name", ["Orders", "", "9lives", "a" * 41, "orders_svc"])
def test_fails_if_the_name_is_not_a_service_name(name: str) -> None:
    with pytest.raises(ValueError, match="name must be lowercase letters"):
        _service(name=name)


@pytest.mark.parametrize("base_path", ["/orders", "orders/", "a//b", "", "or ders"])
def test_fails_if_the_base_path_is_not_path_segments(base_path: str) -> None:
    with pytest.raises(ValueError, match="base_path must be one or more path segments"):
        _service(base_path=base_path)


def test_fails_if_both_existing_table_and_table_props_are_given() -> None:
    stack = Stack(new_app(), "S")
    table = ddb.Table.from_table_name(stack, "T", "t")
    with pytest.raises(ValueError, match="existing_table and table_props cannot both be set"):
        Microservice(stack, "Svc", name="orders", existing_table=table, table_props={})


@pytest.mark.parametrize(
    ("subscription", "message"),
    [
        (ServiceSubscription(source="Orders", detail_type="x", item_id_field="id2", counter="n"), r"\.source must be"),
        (ServiceSubscription(source="orders", detail_type="", item_id_field="p", counter="n"), r"\.detail_type must"),
        (ServiceSubscription(source="orders", detail_type="x", item_id_field="p-id", counter="n"), "item_id_field"),
        (ServiceSubscription(source="orders", detail_type="x", item_id_field="p", counter="seen_events"), "owns"),
        (ServiceSubscription(source="orders", detail_type="x", item_id_field="p", counter="n", amount_field="a b"),
         "amount_field"),
    ],
)
def test_fails_if_a_subscription_is_invalid(subscription: ServiceSubscription, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _service(name="catalog", subscriptions=[subscription])


def test_fails_if_a_service_subscribes_to_itself() -> None:
    with pytest.raises(ValueError, match=r"subscriptions\[0\]\.source is this service"):
        _service(subscriptions=[SUBSCRIPTION])


def test_fails_if_the_domain_name_is_not_a_dns_name() -> None:
    stack = Stack(new_app(), "S")
    service = Microservice(stack, "Svc", name="orders")
    with pytest.raises(ValueError, match="domain_name must be a lowercase DNS name"):
        ServiceDomain(stack, "D", domain_name="API.example", services=[service])


def test_fails_if_no_service_is_mapped() -> None:
    with pytest.raises(ValueError, match="services must name at least one Microservice"):
        ServiceDomain(Stack(new_app(), "S"), "D", domain_name="api.example.com", services=[])


def test_fails_if_two_services_share_a_base_path() -> None:
    stack = Stack(new_app(), "S")
    one = Microservice(stack, "One", name="orders")
    two = Microservice(stack, "Two", name="billing", base_path="orders")
    with pytest.raises(ValueError, match="services orders and billing both use base_path 'orders'"):
        ServiceDomain(stack, "D", domain_name="api.example.com", services=[one, two])
