"""CATALOG 16 — Strangler: a facade API in front of a legacy HTTP service, moving routes to a new service one by one.

Every route of the facade's route table (``core.Route``) starts on the legacy system (an HTTP
service: ``core.HttpBackend``, HTTP_PROXY, so method, path, query, headers and body reach it
unchanged); naming a route's key in ``migrated`` sends it to the new service (a Lambda function)
instead — migrating a route is one entry in one prop, and clients never change their requests.
The new service writes back what the legacy system still needs through an anti-corruption layer:
it sends a write-back event to an SQS queue (core's DLQ defaults) that the legacy side's sync
consumer applies in its own model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=16,
    name="Strangler",
    construct="Strangler",
    module="patterns.strangler",
    demo_stack="StranglerDemo",
    handlers=("strangler",),
    family="APIs and edges",
    summary="A facade API routing each route to the legacy HTTP service or the new service (one prop migrates "
    "a route), with write-back events to the legacy side",
)

#: The variable naming the write-back queue in the new service's environment.
SYNC_QUEUE_VARIABLE = "LEGACY_SYNC_QUEUE_URL"


class Strangler(Construct):
    """A facade whose route table sends each route to the legacy service or, once migrated, to the new one.

    :param routes: the facade's route table; every route's backend is a ``core.HttpBackend`` on the
        legacy service (where the route goes until it is migrated). Required; at least one route.
    :param migrated: the route keys (``"GET /orders/{id}"``, as ``core.Route.keys`` names them) the
        new service now serves; each must be a key of ``routes``. Default: none (everything legacy).
    :param new_service_code: the new service's code. Required. It finds the write-back queue in
        ``LEGACY_SYNC_QUEUE_URL`` (a variable the pattern owns) and may send to it.
    :param new_service_handler: the new service's handler, e.g. ``"orders.handler"``. Required.
    :param legacy_sync: the legacy side's consumer of write-back events, attached to the write-back
        queue with partial batch responses; None leaves the queue for you to consume. Default: None.
    :param sync_batch_size: write-back events per ``legacy_sync`` invocation, 1-10. Default: 10.
    :param existing_sync_queue: use this queue for write-back events (its own DLQ is yours);
        mutually exclusive with ``sync_queue_props``. Default: a new encrypted queue with a DLQ.
    :param sync_queue_props: overrides of the new write-back queue's props. Default: core defaults.
    :param existing_api: add the routes to this REST API; mutually exclusive with ``api_options``.
        Default: a new API.
    :param api_options: the new API's stage, throttle, authorization, access logs. Default:
        ``core.ApiOptions()`` (IAM authorization, as core builds every API).
    :param function_options: the new service's memory, timeout, environment... Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``api``, ``methods`` (``"GET /orders/{id}"`` → Method), ``new_service``,
    ``sync_queue``, ``sync_dead_letter_queue`` (None with an existing queue), ``migrated_routes`` and
    ``legacy_routes`` (route keys), ``alarms``, ``url``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: Sequence[core.Route],
        new_service_code: lambda_.Code,
        new_service_handler: str,
        migrated: Collection[str] = (),
        legacy_sync: lambda_.IFunction | None = None,
        sync_batch_size: int | None = None,
        existing_sync_queue: sqs.IQueue | None = None,
        sync_queue_props: dict[str, object] | None = None,
        existing_api: apigw.RestApi | None = None,
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        core.check_routes(routes)
        self._check_migration(routes, migrated)
        if sync_batch_size is not None and legacy_sync is None:
            raise ValueError("sync_batch_size is the batch size of legacy_sync: set legacy_sync too, or leave it unset")
        core.validation.in_range("sync_batch_size", sync_batch_size, 1, 10)
        if existing_api is not None and api_options is not None:
            raise ValueError("existing_api and api_options are mutually exclusive: configure the existing API's stage")
        throttled = [r.path for r in routes if r.throttle is not None]
        if existing_api is not None and throttled:
            raise ValueError(
                f"routes {throttled} set a throttle, which is a setting of a stage this construct creates; with "
                "existing_api set the method throttling on your stage"
            )

        # The queue's visibility covers the sync consumer's timeout (6x, core's rule) when it is known.
        sync_timeout = getattr(legacy_sync, "timeout", None) if isinstance(legacy_sync, lambda_.Function) else None
        pair = core.queue_with_dlq(
            self,
            "SyncQueue",
            consumer_timeout=sync_timeout,
            existing_queue=existing_sync_queue,
            queue_props=sync_queue_props,
            existing_queue_name="existing_sync_queue",
            queue_props_name="sync_queue_props",
        )
        self.sync_queue, self.sync_dead_letter_queue = pair.queue, pair.dead_letter_queue
        self.new_service = core.python_function(
            self,
            "NewService",
            code=new_service_code,
            handler=new_service_handler,
            service="strangler-new-service",
            invocation="sync",
            description="Strangler: the new service behind the facade's migrated routes",
            options=function_options,
            environment={SYNC_QUEUE_VARIABLE: self.sync_queue.queue_url},
        )
        self.sync_queue.grant_send_messages(self.new_service)
        if legacy_sync is not None:
            core.consume(legacy_sync, self.sync_queue, batch_size=sync_batch_size or 10)

        if existing_api is not None:
            self.api: apigw.RestApi = existing_api
        else:
            options = api_options or core.ApiOptions()
            throttles = core.method_throttles(routes)
            if throttles:
                options = dataclasses.replace(options, method_options={**(options.method_options or {}), **throttles})
            self.api = core.rest_api(
                self, "Api", description=f"Strangler facade: {len(routes)} routes", options=options
            )
            if options.authorization_type == apigw.AuthorizationType.NONE and options.authorizer is None:
                reason = (
                    "the facade keeps the legacy API's contract and its clients' requests unchanged, and the legacy "
                    "API is unauthenticated; pass api_options with an authorizer once its clients sign in"
                )
                core.nag.acknowledge(self.api, "AwsSolutions-APIG4", reason)
                core.nag.acknowledge(self.api, "AwsSolutions-COG4", reason)
        core.not_found_response(self.api)

        table: list[core.Route] = []
        self.migrated_routes: list[str] = []
        self.legacy_routes: list[str] = []
        for route in routes:
            moved = tuple(m for m in route.methods if f"{m} {route.path}" in migrated)
            kept = tuple(m for m in route.methods if m not in moved)
            if moved:
                table.append(dataclasses.replace(route, methods=moved, backend=self.new_service))
                self.migrated_routes += [f"{m} {route.path}" for m in moved]
            if kept:
                table.append(dataclasses.replace(route, methods=kept))
                self.legacy_routes += [f"{m} {route.path}" for m in kept]
        validator = core.validator(self.api, "RouteValidator") if any(r.required_parameters for r in routes) else None
        if validator is None and existing_api is None:
            core.nag.acknowledge(
                self.api,
                "AwsSolutions-APIG2",
                "the facade passes each request through unchanged; the legacy and the new service validate it "
                "alike (a facade that validated would change the legacy API's answers); routes with "
                "required_parameters get a request validator",
            )
        self.methods: dict[str, apigw.Method] = core.add_routes(self, self.api, table, validator=validator).methods

        self.alarms = core.PatternAlarms(
            self,
            "Alarms",
            options=alarm_options,
            functions={"NewService": self.new_service},
            work_queues={"Sync": self.sync_queue},
            dead_letter_queues={"SyncDeadLetters": pair.dead_letter_queue} if pair.dead_letter_queue else None,
            apis={"Api": self.api},
        ).alarms

    @staticmethod
    def _check_migration(routes: Sequence[core.Route], migrated: Collection[str]) -> None:
        if isinstance(migrated, str):
            raise ValueError(f"migrated must be a collection of route keys, not the string {migrated!r}")
        for route in routes:
            if not isinstance(route.backend, core.HttpBackend):
                raise ValueError(
                    f"routes: {route.path!r} must start on the legacy service (a core.HttpBackend); "
                    "send it to the new service with migrated={...}"
                )
        keys = [key for route in routes for key in route.keys]
        unknown = sorted(set(migrated) - set(keys))
        if unknown:
            raise ValueError(f"migrated names routes {unknown} that are not in routes (known: {keys})")

    @property
    def url(self) -> str:
        """The facade's stage URL, e.g. ``https://{api}.execute-api.{region}.amazonaws.com/prod/``."""
        return self.api.url
