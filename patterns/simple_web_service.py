"""CATALOG 1 — SimpleWebService: REST API → one Lambda function (Powertools REST resolver) → DynamoDB.

The API validates request bodies and parameters before any code runs; the function validates again
with the same model, so bad input is rejected with 400 and its reason and never reaches the table.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=1,
    name="SimpleWebService",
    construct="SimpleWebService",
    module="patterns.simple_web_service",
    demo_stack="SimpleWebServiceDemo",
    handlers=("simple_web_service",),
    family="Messaging and integration",
    summary="REST API with request validation in front of one Powertools function doing CRUD on a DynamoDB table",
)

#: The body of POST and PUT for the default handler (lambdas/simple_web_service/models.py, same limits).
ITEM_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="Item",
    type=apigw.JsonSchemaType.OBJECT,
    required=["name"],
    additional_properties=False,
    properties={
        "name": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=200),
        "description": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=2000),
        "quantity": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=0, maximum=1_000_000),
    },
)

_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: Table actions the default handler performs; nothing else is granted.
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan")


class SimpleWebService(Construct):
    """An item resource over HTTP: ``POST /items``, ``GET /items``, ``GET|PUT|DELETE /items/{id}``.

    :param existing_table: store items in this table (partition key ``id``, string). Default: a new
        on-demand, encrypted table with point-in-time recovery; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new table (not its key). Default: none.
    :param handler_code: your own handler code for the same wiring. Default: ``lambdas/simple_web_service``.
    :param handler: the handler entry point. Default: ``app.handler``.
    :param resource_name: the collection's path part (``/items``); lowercase letters, digits, dashes.
        Default: ``items``.
    :param item_schema: the JSON schema API Gateway validates POST/PUT bodies against. Default:
        ``ITEM_SCHEMA`` (the default handler's model).
    :param default_page_size: items per page of ``GET /items`` without ``limit``. Default: 20.
    :param max_page_size: the largest ``limit`` accepted. Default: 100.
    :param api_options: stage, throttling, authorization, access logs. Default: ``core.ApiOptions()``
        (IAM authorization).
    :param function_options: memory, timeout, log retention... Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``table``, ``function``, ``api``, ``validator``, ``model`` (the body model),
    ``collection`` (``/items``), ``item`` (``/items/{id}``), ``alarms``, ``url``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_table: ddb.ITable | None = None,
        table_props: dict[str, Any] | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "app.handler",
        resource_name: str = "items",
        item_schema: apigw.JsonSchema | None = None,
        default_page_size: int = 20,
        max_page_size: int = 100,
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _RESOURCE_NAME.match(resource_name):
            raise ValueError(
                f"resource_name must be a lowercase path part of letters, digits and dashes starting with a "
                f"letter, like 'items' (given {resource_name!r})"
            )
        core.validation.in_range("max_page_size", max_page_size, 1, 1000)
        core.validation.in_range("default_page_size", default_page_size, 1, max_page_size, "(max_page_size)")

        self.table: ddb.ITable = core.table(
            self, "Table", partition_key="id", existing_table=existing_table, table_props=table_props
        )
        self.function: lambda_.Function = core.python_function(
            self, "Handler",
            code=handler_code or core.handler_code("simple_web_service"),
            handler=handler,
            service="simple-web-service",
            invocation="sync",
            description=f"CRUD of /{resource_name} on the table",
            options=function_options,
            environment={
                "TABLE_NAME": self.table.table_name,
                "RESOURCE_NAME": resource_name,
                "DEFAULT_PAGE_SIZE": str(default_page_size),
                "MAX_PAGE_SIZE": str(max_page_size),
            },
        )
        self.table.grant(self.function, *TABLE_ACTIONS)

        validated = core.validated_rest_api(
            self, "Api", description=f"SimpleWebService: CRUD of /{resource_name}", options=api_options,
            model_id="ItemModel", schema=item_schema or ITEM_SCHEMA,
        )
        self.api: apigw.RestApi = validated.api
        self.validator, self.model = validated.validator, validated.model
        integration = apigw.LambdaIntegration(self.function, allow_test_invoke=False)
        body: dict[str, Any] = {"request_validator": self.validator, "request_models": {"application/json": self.model}}
        path_id = {"method.request.path.id": True}

        self.collection: apigw.Resource = self.api.root.add_resource(resource_name)
        self.collection.add_method("POST", integration, **body)
        self.collection.add_method(
            "GET", integration, request_validator=self.validator,
            request_parameters={
                "method.request.querystring.limit": False, "method.request.querystring.next_token": False,
            },
        )
        self.item: apigw.Resource = self.collection.add_resource("{id}")
        self.item.add_method("GET", integration, request_validator=self.validator, request_parameters=path_id)
        self.item.add_method("PUT", integration, request_parameters=path_id, **body)
        self.item.add_method("DELETE", integration, request_validator=self.validator, request_parameters=path_id)

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Handler": self.function}
        ).alarms

    @property
    def url(self) -> str:
        """The collection's URL, e.g. ``https://{api}.execute-api.{region}.amazonaws.com/prod/items``."""
        return self.api.url_for_path(self.collection.path)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call every method of the API (IAM authorization)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api(stage=self.api.deployment_stage.stage_name)],
        )
