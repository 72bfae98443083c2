"""CATALOG 20 — Microservices: per-service stacks (each owns its API, function and table) under one
custom domain with a base path per service; services talk through events, never another's table.

``Microservice`` is one service: a REST API (``core.validated_rest_api``: validation, access logs,
tracing, throttling, IAM auth by default), one Powertools function and the service's own table
(``core.table``). Each created item is published to EventBridge (source = the service name), and a
service subscribes to other services' events with ``ServiceSubscription`` (a rule on the default
bus, ``core.lambda_target`` with a DLQ and bounded retries). ``ServiceDomain`` is the shared entry
point: an API Gateway custom domain (regional, TLS 1.2) mapping each service's base path to its API.
Put each in its own stack: the entry stack references the services' APIs, which CDK turns into
exports / ``Fn::ImportValue``, so every service stack deploys and updates on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=20,
    name="Microservices",
    construct="Microservice",
    module="patterns.microservices",
    demo_stack="MicroservicesDemo",
    service_stacks=("MicroservicesOrders", "MicroservicesCatalog"),
    handlers=("microservices",),
    family="APIs and edges",
    summary="per-service stacks (own API, function, table) under one custom domain by base path; events between them",
    diagram="""
             ┌─ /orders  ──> orders API ──> orders function ──> orders table
api.domain ──┤                                   └─ "orders.created" ─> EventBridge ─┐
 (entry)     └─ /catalog ──> catalog API ──> catalog function ──> catalog table <────┘ (rule + DLQ)
""",
)

#: Partition key of every service table (the default handler's contract).
ITEM_ID = "id"
#: The attribute the default handler keeps applied event ids in (duplicate deliveries count once).
SEEN_EVENTS = "seen_events"
#: Table actions the default handler performs on its own table; nothing else is granted.
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan")

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_BASE_PATH = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

#: A body the default handler stores as given (API Gateway validates it against ``item_schema``).
ANY_OBJECT = apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4, title="Item", type=apigw.JsonSchemaType.OBJECT)


@dataclass(frozen=True, kw_only=True)
class ServiceSubscription:
    """Events of another service this one reacts to: ``counter`` of the item whose id is
    ``detail[item_id_field]`` grows by ``detail[amount_field]`` (or 1), once per event id.

    :param source: the publishing service's name (its events' ``source``).
    :param detail_type: the event's ``detail-type``, e.g. ``orders.created``.
    :param item_id_field: the detail field naming an item of this service.
    :param counter: the attribute of that item to add to.
    :param amount_field: the detail field to add. Default: none (adds 1).
    """

    source: str
    detail_type: str
    item_id_field: str
    counter: str
    amount_field: str | None = None

    def validate(self, index: int) -> None:
        where = f"subscriptions[{index}]"
        if not _NAME.match(self.source):
            raise ValueError(f"{where}.source must be a service name like 'orders' (given {self.source!r})")
        if not self.detail_type or len(self.detail_type) > 128:
            raise ValueError(f"{where}.detail_type must be 1-128 characters (given {self.detail_type!r})")
        for prop in ("item_id_field", "counter", "amount_field"):
            value = getattr(self, prop)
            if value is not None and not _FIELD.match(value):
                raise ValueError(
                    f"{where}.{prop} must be an attribute name of letters, digits and '_' (given {value!r})"
                )
        if self.counter in (ITEM_ID, SEEN_EVENTS):
            raise ValueError(f"{where}.counter cannot be {self.counter!r}: the handler owns that attribute")

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "detail_type": self.detail_type,
            "item_id_field": self.item_id_field,
            "counter": self.counter,
            "amount_field": self.amount_field,
        }


class Microservice(Construct):
    """One service that owns its API, function and table: ``POST /`` creates an item (published as
    ``<name>.created``), ``GET /`` lists items, ``GET /{id}`` reads one; under a ``ServiceDomain``
    the same paths answer below ``/<base_path>``.

    :param name: the service name: lowercase letters, digits, dashes (1-40). It is the events'
        ``source`` and the Powertools service name. Required.
    :param base_path: where a ``ServiceDomain`` maps the service (one or more segments). Default: ``name``.
    :param item_schema: the JSON schema API Gateway validates ``POST /`` bodies against. Default:
        ``ANY_OBJECT`` (any JSON object).
    :param subscriptions: other services' events this service counts on its items. Default: none.
    :param publish_events: publish each created item to the default event bus. Default: True.
    :param existing_table: the service's table (partition key ``id``, string). Default: a new
        on-demand, encrypted table with point-in-time recovery; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new table (not its key). Default: none.
    :param handler_code: your own handler code for the same wiring. Default: ``lambdas/microservices``.
    :param handler: the handler entry point. Default: ``app.handler``.
    :param api_options: stage, throttling, authorization, access logs. Default: ``core.ApiOptions()``
        (IAM authorization).
    :param function_options: memory, timeout, log retention... Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``name``, ``base_path``, ``detail_type``, ``table``, ``function``, ``api``,
    ``validator``, ``model``, ``item`` (``/{id}``), ``rules``, ``dead_letter_queue`` (of the rule
    targets; None without subscriptions), ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        base_path: str | None = None,
        item_schema: apigw.JsonSchema | None = None,
        subscriptions: Sequence[ServiceSubscription] = (),
        publish_events: bool = True,
        existing_table: ddb.ITable | None = None,
        table_props: dict[str, Any] | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "app.handler",
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _NAME.match(name):
            raise ValueError(f"name must be lowercase letters, digits and dashes, 1-40, like 'orders' (given {name!r})")
        self.name = name
        self.base_path = base_path if base_path is not None else name
        _check_base_path("base_path", self.base_path)
        for index, subscription in enumerate(subscriptions):
            subscription.validate(index)
            if subscription.source == name:
                raise ValueError(f"subscriptions[{index}].source is this service ({name}): a service reacts to others")
        self.detail_type = f"{name}.created"

        self.table: ddb.ITable = core.table(
            self, "Table", partition_key=ITEM_ID, existing_table=existing_table, table_props=table_props
        )
        self.function: lambda_.Function = core.python_function(
            self, "Handler",
            code=handler_code or core.handler_code("microservices"),
            handler=handler,
            service=name,
            invocation="schedule" if subscriptions else "sync",  # rules: target DLQ + retries
            description=f"The {name} service: its API and the events it subscribes to",
            options=function_options,
            environment={
                "TABLE_NAME": self.table.table_name,
                "SERVICE_NAME": name,
                "BASE_PATH": f"/{self.base_path}",
                "DETAIL_TYPE": self.detail_type,
                "EVENT_BUS_NAME": "default" if publish_events else "",
                "SUBSCRIPTIONS": json.dumps([s.to_json() for s in subscriptions], separators=(",", ":")),
            },
        )
        self.table.grant(self.function, *TABLE_ACTIONS)
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        if publish_events:
            bus.grant_put_events_to(self.function)

        validated = core.validated_rest_api(
            self, "Api", description=f"The {name} service", options=api_options,
            model_id="ItemModel", schema=item_schema or ANY_OBJECT,
        )
        self.api: apigw.RestApi = validated.api
        self.validator, self.model = validated.validator, validated.model
        integration = apigw.LambdaIntegration(self.function, allow_test_invoke=False)
        self.api.root.add_method(
            "POST", integration, request_validator=self.validator, request_models={"application/json": self.model}
        )
        self.api.root.add_method("GET", integration, request_validator=self.validator)
        self.item: apigw.Resource = self.api.root.add_resource("{id}")
        self.item.add_method(
            "GET", integration, request_validator=self.validator, request_parameters={"method.request.path.id": True}
        )

        self.rules: list[events.Rule] = []
        self.dead_letter_queue: sqs.IQueue | None = None
        if subscriptions:
            self.dead_letter_queue = core.dead_letter_queue(
                self, "EventsDlq", purpose=f"events the {name} service could not take (its rule targets)"
            )
            for index, subscription in enumerate(subscriptions):
                self.rules.append(events.Rule(
                    self, f"Subscription{index}",
                    event_bus=bus,
                    description=f"{subscription.source} {subscription.detail_type} -> the {name} service",
                    event_pattern=events.EventPattern(
                        source=[subscription.source], detail_type=[subscription.detail_type]
                    ),
                    targets=[core.lambda_target(self.function, dead_letter_queue=self.dead_letter_queue)],
                ))

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Handler": self.function},
            dead_letter_queues={"EventsDlq": self.dead_letter_queue} if self.dead_letter_queue else {},
        ).alarms

    @property
    def url(self) -> str:
        """The service's own URL, e.g. ``https://{api}.execute-api.{region}.amazonaws.com/prod/``."""
        return self.api.url

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call every method of the service's API (IAM authorization)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api(stage=self.api.deployment_stage.stage_name)],
        )


def _check_base_path(prop: str, value: str) -> None:
    if not _BASE_PATH.match(value):
        raise ValueError(
            f"{prop} must be one or more path segments without leading or trailing '/', like 'orders' or "
            f"'shop/orders' (given {value!r})"
        )


class ServiceDomain(Construct):
    """The shared entry point: one custom domain, each service's API under its base path.

    :param domain_name: the custom domain, e.g. ``api.example.com``. Required.
    :param services: the services to map, each at its ``base_path`` (unique). Required, at least one.
    :param certificate: the domain's ACM certificate (in the stack's region). Default: a new
        DNS-validated certificate for ``domain_name`` (on AWS it waits until its CNAME record exists).
    :param security_policy: the TLS policy. Default: TLS 1.2.

    Attributes: ``domain`` (``apigw.DomainName``), ``certificate``, ``url`` (``https://<domain>``),
    ``mappings`` (base path → service).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        services: Sequence[Microservice],
        certificate: acm.ICertificate | None = None,
        security_policy: apigw.SecurityPolicy = apigw.SecurityPolicy.TLS_1_2,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _DOMAIN.match(domain_name):
            raise ValueError(f"domain_name must be a lowercase DNS name like 'api.example.com' (given {domain_name!r})")
        if not services:
            raise ValueError("services must name at least one Microservice to map")
        self.mappings: dict[str, Microservice] = {}
        for service in services:
            if service.base_path in self.mappings:
                other = self.mappings[service.base_path].name
                raise ValueError(f"services {other} and {service.name} both use base_path {service.base_path!r}")
            self.mappings[service.base_path] = service
        self.certificate: acm.ICertificate = certificate or acm.Certificate(
            self, "Certificate", domain_name=domain_name, validation=acm.CertificateValidation.from_dns()
        )
        self.domain = apigw.DomainName(
            self, "Domain", domain_name=domain_name, certificate=self.certificate,
            endpoint_type=apigw.EndpointType.REGIONAL, security_policy=security_policy,
        )
        for base_path, service in self.mappings.items():
            stage = service.api.deployment_stage
            if "/" in base_path:  # multi-level base paths exist only as API Gateway v2 API mappings
                self.domain.add_api_mapping(stage, base_path=base_path)
            else:
                self.domain.add_base_path_mapping(service.api, base_path=base_path, stage=stage, attach_to_stage=False)
        self.domain_name = domain_name

    @property
    def url(self) -> str:
        return f"https://{self.domain_name}"

    def url_for(self, service: Microservice) -> str:
        """Where ``service`` answers under the domain, e.g. ``https://api.example.com/orders``."""
        return f"{self.url}/{service.base_path}"

