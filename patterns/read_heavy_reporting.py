"""CATALOG 21 — ReadHeavyReporting: a source table's stream → a projector function → a materialized
view table (per-key aggregates) and an index table (top N by a counter), read through a REST API
with a cache-aside path.

The stream consumer comes from ``core.consume_stream`` (bisect on error, bounded retries and record
age, an on-failure queue); every table is a ``core.table``, the API is ``core.rest_api``. The
projector applies each stream record once: a conditional put of the record's ``eventID`` in the
applied table and the record's deltas to the views commit in one DynamoDB transaction, so a
redelivered record is a no-op. The index is rewritten from the views after every batch and is keyed
by rank (``1`` .. ``top_n``), so it can never hold more than ``top_n`` items. Reads go to a cache
table first (TTL ``expires``) and fill it on a miss.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=21,
    name="ReadHeavyReporting",
    construct="ReadHeavyReporting",
    module="patterns.read_heavy_reporting",
    demo_stack="ReadHeavyReportingDemo",
    handlers=("read_heavy_reporting",),
    family="Data and streams",
    summary="Table stream projected once per record into per-key views and a top-N index, read via API + cache",
)

#: Keys and attributes the handlers read and write (their contract with the tables).
SOURCE_KEY = "id"
VIEW_KEY = "view_key"
RANK_KEY = "rank"
EVENT_ID = "event_id"
CACHE_KEY = "cache_key"
EXPIRES = "expires"
#: The views' sparse ranking index: every view carries ``board`` = ``all`` and its counters.
BOARD = "board"
RANK_INDEX = "ByRank"
#: The counters a view keeps, and so what the index can rank by.
COUNTERS = ("total", "item_count")
#: Applied markers outlive the stream's 24-hour retention: a record cannot be redelivered after that.
MARKER_RETENTION = Duration.hours(25)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")


def _check_stream(existing: ddb.ITable) -> None:
    """The projector needs both images (deltas of updates and deletes), so a stream of NEW_AND_OLD_IMAGES."""
    if existing.table_stream_arn is None:
        raise ValueError(
            "existing_source_table must have a DynamoDB stream (define it with stream=NEW_AND_OLD_IMAGES, "
            f"or import it with Table.from_table_attributes(table_stream_arn=...)) (given {existing.node.path})"
        )
    cfn = existing.node.default_child
    if isinstance(cfn, ddb.CfnTable):
        spec = cfn.stream_specification
        view = getattr(spec, "stream_view_type", None)
        if isinstance(view, str) and view != ddb.StreamViewType.NEW_AND_OLD_IMAGES.value:
            raise ValueError(
                f"existing_source_table's stream must be NEW_AND_OLD_IMAGES: the projector needs the old "
                f"image to undo an update or a delete (given {view})"
            )


def _allow(function: lambda_.Function, resources: list[str], *actions: str) -> None:
    function.add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=resources))


class ReadHeavyReporting(Construct):
    """Items written to the source table are aggregated per ``group_field`` value into the view table
    (``item_count`` and ``total`` of ``value_field``), and the ``top_n`` views by ``rank_by`` are kept in
    the index table; ``GET /views/{key}`` and ``GET /top`` read them through a cache with a TTL.

    A source item whose ``group_field`` is not a non-empty string or whose ``value_field`` is not a
    number is a poison record: it fails alone (bisect), is retried ``retry_attempts`` times and is then
    described in the on-failure queue; it counts in no view (and an update or delete of it undoes nothing).

    :param existing_source_table: the table to report on; partition key ``id`` (string) and a stream
        of NEW_AND_OLD_IMAGES. Default: a new on-demand, encrypted table with point-in-time recovery and
        that stream; mutually exclusive with ``source_table_props``.
    :param source_table_props: overrides for the new source table (not its key or stream). Default: none.
    :param derived_table_props: overrides for the view, index, applied-marker and cache tables (not
        their keys or TTL), e.g. a removal policy. Default: none.
    :param group_field: the source attribute (string) a view aggregates by. Default: ``category``.
    :param value_field: the source attribute (number) a view sums into ``total``. Default: ``amount``.
    :param top_n: how many views the index holds at most, 1-100. Default: 10.
    :param rank_by: the counter the index ranks by, ``total`` or ``item_count``. Default: ``total``.
    :param cache_ttl: how long a read is served from the cache, 1 second to 1 hour. Default: 1 minute.
    :param batch_size: stream records per projector invocation, 1-10000. Default: 100.
    :param retry_attempts: retries of a failing record before it goes to the on-failure queue. Default: 3.
    :param max_record_age: records older than this go to the on-failure queue unprocessed. Default: 1 hour.
    :param handler_code: code asset of both functions. Default: ``lambdas/read_heavy_reporting``.
    :param projector_handler: the projector's handler. Default: ``projector.handler``.
    :param reader_handler: the API's handler. Default: ``reader.handler``.
    :param projector_options: memory, timeout, log retention, extra environment... Default: core
        defaults (256 MB, 10 seconds).
    :param reader_options: the same for the reader. Default: core defaults.
    :param api_options: stage, throttling, authorization, access logs. Default: ``core.ApiOptions()``
        (IAM authorization).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``source_table``, ``view_table``, ``index_table``, ``applied_table``, ``cache_table``,
    ``on_failure_queue``, ``projector``, ``reader``, ``event_source``, ``api``, ``views`` (``/views``),
    ``view`` (``/views/{key}``), ``top`` (``/top``), ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_source_table: ddb.ITable | None = None,
        source_table_props: dict[str, Any] | None = None,
        derived_table_props: dict[str, Any] | None = None,
        group_field: str = "category",
        value_field: str = "amount",
        top_n: int = 10,
        rank_by: str = "total",
        cache_ttl: Duration | None = None,
        batch_size: int = 100,
        retry_attempts: int = core.streams.RETRY_ATTEMPTS,
        max_record_age: Duration | None = None,
        handler_code: lambda_.Code | None = None,
        projector_handler: str = "projector.handler",
        reader_handler: str = "reader.handler",
        projector_options: core.FunctionOptions | None = None,
        reader_options: core.FunctionOptions | None = None,
        api_options: core.ApiOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        for prop, field in (("group_field", group_field), ("value_field", value_field)):
            if not _FIELD.match(field):
                raise ValueError(f"{prop} must be an attribute name of letters, digits, '_' or '-' (given {field!r})")
            if field == SOURCE_KEY:
                raise ValueError(f"{prop} cannot be {SOURCE_KEY!r}: that is the source table's key")
        if group_field == value_field:
            raise ValueError(f"group_field and value_field must be different attributes (both {group_field!r})")
        core.validation.in_range("top_n", top_n, 1, 100)
        if rank_by not in COUNTERS:
            raise ValueError(f"rank_by must be one of {', '.join(COUNTERS)} (given {rank_by!r})")
        ttl = cache_ttl or Duration.minutes(1)
        seconds = ttl.to_seconds(integral=False)
        core.validation.in_range("cache_ttl (seconds)", seconds, 1, 3600)
        if seconds != int(seconds):
            raise ValueError(f"cache_ttl must be a whole number of seconds, as the cache's expiry is (given {seconds})")
        if existing_source_table is not None:
            _check_stream(existing_source_table)
        derived = dict(derived_table_props or {})
        core.validation.reserved(
            "derived_table_props", derived, ("time_to_live_attribute",), "the pattern's handlers write these keys"
        )

        self.source_table: ddb.ITable = core.table(
            self, "SourceTable", partition_key=SOURCE_KEY, stream=ddb.StreamViewType.NEW_AND_OLD_IMAGES,
            existing_table=existing_source_table, table_props=source_table_props,
            existing_table_name="existing_source_table", table_props_name="source_table_props",
        )
        view_table = core.table(
            self, "ViewTable", partition_key=VIEW_KEY, table_props=dict(derived), table_props_name="derived_table_props"
        )
        assert isinstance(view_table, ddb.Table)
        view_table.add_global_secondary_index(
            index_name=RANK_INDEX,
            partition_key=ddb.Attribute(name=BOARD, type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name=rank_by, type=ddb.AttributeType.NUMBER),
            projection_type=ddb.ProjectionType.ALL,
        )
        self.view_table: ddb.ITable = view_table
        self.index_table: ddb.ITable = core.table(
            self, "IndexTable", partition_key=RANK_KEY,
            table_props=dict(derived), table_props_name="derived_table_props",
        )
        self.applied_table: ddb.ITable = core.table(
            self, "AppliedTable", partition_key=EVENT_ID, time_to_live_attribute=EXPIRES,
            table_props=dict(derived), table_props_name="derived_table_props",
        )
        self.cache_table: ddb.ITable = core.table(
            self, "CacheTable", partition_key=CACHE_KEY, time_to_live_attribute=EXPIRES,
            table_props=dict(derived), table_props_name="derived_table_props",
        )
        self.on_failure_queue: sqs.IQueue = core.dead_letter_queue(
            self, "OnFailureQueue", purpose="the projector (its DynamoDB stream on-failure destination)"
        )
        code = handler_code or core.handler_code("read_heavy_reporting")

        self.projector: lambda_.Function = core.python_function(
            self, "Projector",
            code=code,
            handler=projector_handler,
            service="read-heavy-reporting",
            invocation="stream",
            description="Applies each source-table change once to the views, then rewrites the top-N index",
            options=projector_options,
            options_prop="projector_options",
            environment={
                "VIEW_TABLE_NAME": self.view_table.table_name,
                "INDEX_TABLE_NAME": self.index_table.table_name,
                "APPLIED_TABLE_NAME": self.applied_table.table_name,
                "RANK_INDEX_NAME": RANK_INDEX,
                "GROUP_FIELD": group_field,
                "VALUE_FIELD": value_field,
                "TOP_N": str(top_n),
                "RANK_BY": rank_by,
                "MARKER_TTL_SECONDS": str(int(MARKER_RETENTION.to_seconds())),
            },
        )
        # One transaction per record: a conditional put of its marker and updates of the views it moves.
        self.applied_table.grant(self.projector, "dynamodb:PutItem")
        # On the view table itself, not ``/index/*`` as Table.grant adds for a table with an index.
        _allow(self.projector, [self.view_table.table_arn], "dynamodb:UpdateItem", "dynamodb:DeleteItem",
               "dynamodb:BatchGetItem")
        _allow(self.projector, [f"{self.view_table.table_arn}/index/{RANK_INDEX}"], "dynamodb:Query")
        self.index_table.grant(self.projector, "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem")
        self.event_source: lambda_.IEventSource = core.consume_stream(
            self.projector, self.source_table, on_failure=self.on_failure_queue, batch_size=batch_size,
            retry_attempts=retry_attempts, max_record_age=max_record_age,
        )

        self.reader: lambda_.Function = core.python_function(
            self, "Reader",
            code=code,
            handler=reader_handler,
            service="read-heavy-reporting",
            invocation="sync",
            description="Serves the views and the top-N index, cache-aside",
            options=reader_options,
            options_prop="reader_options",
            environment={
                "VIEW_TABLE_NAME": self.view_table.table_name,
                "INDEX_TABLE_NAME": self.index_table.table_name,
                "CACHE_TABLE_NAME": self.cache_table.table_name,
                "CACHE_TTL_SECONDS": str(int(ttl.to_seconds())),
            },
        )
        _allow(self.reader, [self.view_table.table_arn], "dynamodb:GetItem")
        self.index_table.grant(self.reader, "dynamodb:Scan")
        self.cache_table.grant(self.reader, "dynamodb:GetItem", "dynamodb:PutItem")

        self.api: apigw.RestApi = core.rest_api(
            self, "Api", description="ReadHeavyReporting: per-key views and the top-N index", options=api_options
        )
        validator = core.validator(self.api)
        integration = apigw.LambdaIntegration(self.reader, allow_test_invoke=False)
        self.views: apigw.Resource = self.api.root.add_resource("views")
        self.view: apigw.Resource = self.views.add_resource("{key}")
        self.view.add_method(
            "GET", integration, request_validator=validator, request_parameters={"method.request.path.key": True}
        )
        self.top: apigw.Resource = self.api.root.add_resource("top")
        self.top.add_method("GET", integration, request_validator=validator)

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Projector": self.projector, "Reader": self.reader},
            dead_letter_queues={"OnFailureQueue": self.on_failure_queue},
            iterator_functions={"Projector": self.projector},
        ).alarms

    def grant_write_source(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to write the source table (what the views report on)."""
        return self.source_table.grant_write_data(grantee)

    def grant_invoke_api(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call the read API (IAM authorization)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api(stage=self.api.deployment_stage.stage_name)],
        )
