"""CATALOG 19 — GraphQlEndpoint: an AppSync GraphQL API over a DynamoDB table, with a Lambda resolver for a
computed field, read with an API key and written by Cognito users.

The API comes from ``core.graphql_api`` (API key with an explicit expiry as the default provider,
the user pool as an additional one, X-Ray, error logs with retention), the table from
``core.table`` (plus the ``byOwner`` index the owner query reads), the function from
``core.python_function``. Resolvers are VTL mapping templates AppSync runs itself (CDK's
``MappingTemplate`` DynamoDB helpers for get and put, paged Scan/Query templates with
``nextToken``), so reading and writing items invokes no function; only ``Item.priceLabel`` is
computed, by a direct Lambda resolver. VTL rather than APPSYNC_JS: CDK generates VTL for these
operations, and the same templates run in the local cloud.

Authorization lives in the schema: ``@aws_api_key`` readers may query items, only
``@aws_cognito_user_pools`` users may add them, and ``Item.notes`` is readable only by members of
``restricted_group`` — anyone else gets the item with ``notes: null`` and an ``Unauthorized`` error.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=19,
    name="GraphQlEndpoint",
    construct="GraphQlEndpoint",
    module="patterns.graphql_endpoint",
    demo_stack="GraphQlEndpointDemo",
    handlers=("graphql_endpoint",),
    family="APIs and edges",
    summary="AppSync GraphQL API: DynamoDB resolvers (queries, mutations, pages), a Lambda-computed field, "
    "API key + Cognito auth with a group-only field",
    diagram="""
client ──(x-api-key: read │ Cognito JWT: read + write)──> AppSync GraphQL API
   item / items / itemsByOwner / addItem ──(VTL resolvers)──> DynamoDB items table (+ byOwner index)
   Item.priceLabel ──(direct Lambda resolver)──> pricing function
   Item.notes: only the restricted Cognito group (others: null + Unauthorized error)
""",
)

#: The table's key, its owner index and the attributes the resolvers and the pricing function read.
ITEM_ID = "id"
OWNER_INDEX = "byOwner"
OWNER = "owner"
_GROUP = re.compile(r"^[\w+=,.@-]{1,128}$")

SCHEMA = """
type Item @aws_api_key @aws_cognito_user_pools {
  id: ID!
  name: String!
  owner: String!
  priceCents: Int!
  createdAt: AWSDateTime!
  "Computed by the pricing function (a direct Lambda resolver)."
  priceLabel: String
  "Readable by members of the restricted group only."
  notes: String @aws_cognito_user_pools(cognito_groups: ["%(group)s"])
}

type ItemPage @aws_api_key @aws_cognito_user_pools {
  items: [Item!]!
  nextToken: String
}

input NewItem {
  name: String!
  owner: String!
  priceCents: Int!
  notes: String
}

type Query @aws_api_key @aws_cognito_user_pools {
  item(id: ID!): Item
  items(limit: Int, nextToken: String): ItemPage!
  itemsByOwner(owner: String!, limit: Int, nextToken: String): ItemPage!
}

type Mutation @aws_cognito_user_pools {
  addItem(input: NewItem!): Item!
}
"""

#: A page of a Scan or an owner Query: ``limit`` items (the pattern's page size unless asked), from ``nextToken``.
_PAGE = """{
  "version": "2017-02-28",
  "operation": "%(operation)s",%(query)s
  "limit": $util.defaultIfNull($ctx.args.limit, %(page_size)d),
  "nextToken": $util.toJson($util.defaultIfNullOrEmpty($ctx.args.nextToken, null))
}"""
_OWNER_QUERY = f"""
  "index": "{OWNER_INDEX}",
  "query": {{
    "expression": "#owner = :owner",
    "expressionNames": {{"#owner": "{OWNER}"}},
    "expressionValues": {{":owner": $util.dynamodb.toDynamoDBJson($ctx.args.owner)}}
  }},"""
_PAGE_RESULT = '{"items": $util.toJson($ctx.result.items), "nextToken": $util.toJson($ctx.result.nextToken)}'
_LIMIT_CHECK = "#if($ctx.args.limit && ($ctx.args.limit < 1 || $ctx.args.limit > %(max)d))" + (
    '$util.error("limit must be between 1 and %(max)d", "BadRequest")#end'
)


class GraphQlEndpoint(Construct):
    """A GraphQL API of items: ``item``, ``items`` and ``itemsByOwner`` (pages with ``nextToken``) for API key
    and Cognito callers, ``addItem`` for Cognito users, ``Item.priceLabel`` computed by a function and
    ``Item.notes`` for the restricted group only.

    :param existing_user_pool: the pool whose users may write and read notes. Default: a new pool
        (admin-created users, email sign-in, strong passwords); mutually exclusive with ``user_pool_props``.
    :param user_pool_props: overrides for the new pool (not ``self_sign_up_enabled``). Default: core defaults
        (retained on stack deletion).
    :param table_props: overrides for the items table (not its key). Default: core defaults.
    :param restricted_group: the Cognito group that may read ``Item.notes``. Default: ``editors``.
    :param page_size: items per page when a query gives no ``limit``, 1-100. Default: 20.
    :param max_page_size: the largest ``limit`` a caller may ask, ``page_size``-1000. Default: 100.
    :param api_key_days: days until the API key expires, 1-365 (each deploy renews it). Default: 30.
    :param api_name: the API's name. Default: the construct's path.
    :param handler_code: code asset of the pricing function. Default: ``lambdas/graphql_endpoint``.
    :param handler: its handler, an AppSync direct-resolver handler. Default: ``pricing.handler``.
    :param currency: the currency the pricing function labels prices in (ISO 4217). Default: ``EUR``.
    :param function_options: memory, timeout, log retention, extra environment... Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``api``, ``api_key`` (the key's value), ``table``, ``user_pool``, ``group`` (the restricted
    group in a new pool; None with ``existing_user_pool``), ``function``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_user_pool: cognito.IUserPool | None = None,
        user_pool_props: dict[str, Any] | None = None,
        table_props: dict[str, Any] | None = None,
        restricted_group: str = "editors",
        page_size: int = 20,
        max_page_size: int = 100,
        api_key_days: int = 30,
        api_name: str | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "pricing.handler",
        currency: str = "EUR",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        core.validation.exclusive(existing_user_pool=existing_user_pool, user_pool_props=user_pool_props)
        core.validation.reserved(
            "user_pool_props", user_pool_props, ("self_sign_up_enabled",), "users are created by an administrator"
        )
        if not _GROUP.match(restricted_group):
            raise ValueError(f"restricted_group must be a Cognito group name (given {restricted_group!r})")
        core.validation.in_range("page_size", page_size, 1, 100)
        core.validation.in_range("max_page_size", max_page_size, page_size, 1000, " (at least page_size)")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValueError(f"currency must be an ISO 4217 code such as EUR (given {currency!r})")

        self.user_pool: cognito.IUserPool = existing_user_pool or core.user_pool(
            self, "UserPool", props=user_pool_props
        )
        #: The restricted group, created in a new pool (an existing pool brings its own). Default: None.
        self.group: cognito.CfnUserPoolGroup | None = None
        if existing_user_pool is None:
            self.group = cognito.CfnUserPoolGroup(
                self,
                "RestrictedGroup",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=restricted_group,
                description="May read Item.notes through the GraphQL API",
            )
        self.table: ddb.ITable = core.table(self, "Table", partition_key=ITEM_ID, table_props=table_props)
        if isinstance(self.table, ddb.Table):
            self.table.add_global_secondary_index(
                index_name=OWNER_INDEX, partition_key=ddb.Attribute(name=OWNER, type=ddb.AttributeType.STRING)
            )
        self.api: appsync.GraphqlApi = core.graphql_api(
            self,
            "Api",
            name=api_name or "-".join(self.node.path.split("/")),
            definition=appsync.Definition.from_schema(core.InlineSchema(SCHEMA % {"group": restricted_group})),
            api_key_days=api_key_days,
            user_pool=self.user_pool,
        )
        self.api_key: str = self.api.api_key or ""

        items = core.dynamodb_source(self.api, "ItemsSource", self.table)
        templates = appsync.MappingTemplate
        items.create_resolver(
            "ItemResolver",
            type_name="Query",
            field_name="item",
            request_mapping_template=templates.dynamo_db_get_item(ITEM_ID, ITEM_ID),
            response_mapping_template=templates.dynamo_db_result_item(),
        )
        limit_check = _LIMIT_CHECK % {"max": max_page_size}
        for field, operation, query in (("items", "Scan", ""), ("itemsByOwner", "Query", _OWNER_QUERY)):
            items.create_resolver(
                f"{field[0].upper()}{field[1:]}Resolver",
                type_name="Query",
                field_name=field,
                request_mapping_template=templates.from_string(
                    limit_check + _PAGE % {"operation": operation, "query": query, "page_size": page_size}
                ),
                response_mapping_template=templates.from_string(_PAGE_RESULT),
            )
        items.create_resolver(
            "AddItemResolver",
            type_name="Mutation",
            field_name="addItem",
            request_mapping_template=templates.dynamo_db_put_item(
                appsync.PrimaryKey.partition(ITEM_ID).auto(),
                appsync.Values.projecting("input").attribute("createdAt").is_("$util.time.nowISO8601()"),
            ),
            response_mapping_template=templates.dynamo_db_result_item(),
        )

        self.function: lambda_.Function = core.python_function(
            self,
            "Pricing",
            code=handler_code or core.handler_code("graphql_endpoint"),
            handler=handler,
            service="graphql-endpoint",
            invocation="sync",
            description="Computes Item.priceLabel for the GraphQL API (a direct Lambda resolver)",
            options=function_options,
            environment={"CURRENCY": currency},
        )
        pricing = core.lambda_source(self.api, "PricingSource", self.function)
        pricing.create_resolver("PriceLabelResolver", type_name="Item", field_name="priceLabel")

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Pricing": self.function}
        ).alarms

    def grant_read_items(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the items table directly (``GetItem``, ``Query``, ``Scan``...)."""
        return self.table.grant_read_data(grantee)
