"""Rung 1 for CATALOG 19 GraphQlEndpoint: the template properties that make the AppSync API → DynamoDB
resolvers + pricing function correct and safe, every validation error, the existing_user_pool path."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from patterns import core
from patterns.graphql_endpoint import GraphQlEndpoint
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth

POOL_ID = "us-east-1_Existing1"

Built = _helpers.Built[GraphQlEndpoint]


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> Built:
        stack = Stack(app, name)
        stacks[name] = Built(stack, GraphQlEndpoint(stack, "Items", **_helpers.with_existing(stack, props)))
        return stacks[name]

    add("Default")
    add(
        "Tuned", restricted_group="buyers", page_size=5, max_page_size=50, api_key_days=90, api_name="shop",
        currency="CHF", table_props={"deletion_protection": True},
        user_pool_props={"removal_policy": RemovalPolicy.DESTROY},
        function_options=core.FunctionOptions(environment={"EXTRA": "1"}),
    )
    add("Existing", existing_user_pool=lambda s: cognito.UserPool.from_user_pool_id(s, "Pool", POOL_ID))
    add(
        "Swap", handler="index.handler",
        handler_code=lambda_.Code.from_inline("def handler(event, context):\n    return 'label'\n"),
    )
    grants = add("Grants")
    role = iam.Role(grants.stack, "Client", assumed_by=iam.AccountRootPrincipal())
    grants.pattern.grant_read_items(role)
    return synth(stacks)


def _resolvers(b: Built) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["Properties"]["TypeName"], r["Properties"]["FieldName"]): r["Properties"]
        for r in b.resources("AWS::AppSync::Resolver").values()
    }


def _schema(b: Built) -> str:
    (schema,) = b.resources("AWS::AppSync::GraphQLSchema").values()
    return str(schema["Properties"]["Definition"])


def test_creates_an_api_a_table_a_pool_with_its_group_a_function_and_its_alarms(built) -> None:
    b = built["Default"]
    t = b.template
    t.resource_count_is("AWS::AppSync::GraphQLApi", 1)
    t.resource_count_is("AWS::AppSync::ApiKey", 1)
    t.resource_count_is("AWS::AppSync::DataSource", 2)
    t.resource_count_is("AWS::AppSync::Resolver", 5)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("AWS::Cognito::UserPool", 1)
    t.resource_count_is("AWS::Cognito::UserPoolGroup", 1)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("Custom::LogRetention", 0)
    t.resource_count_is("AWS::CloudWatch::Alarm", 2)
    assert set(b.pattern.alarms) == {"PricingErrors", "PricingThrottles"}
    t.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "editors"})


def test_api_key_is_the_default_provider_and_the_pool_an_additional_one(built) -> None:
    b = built["Default"]
    props = b.props(b.pattern.api)
    assert props["AuthenticationType"] == "API_KEY"
    assert props["AdditionalAuthenticationProviders"] == [
        {
            "AuthenticationType": "AMAZON_COGNITO_USER_POOLS",
            "UserPoolConfig": {"AwsRegion": {"Ref": "AWS::Region"}, "UserPoolId": b.ref(b.pattern.user_pool)},
        }
    ]
    assert props["XrayEnabled"] is True
    assert props["LogConfig"]["FieldLogLevel"] == "ERROR"
    (key,) = b.resources("AWS::AppSync::ApiKey").values()
    assert isinstance(key["Properties"]["Expires"], int)
    pool = b.props(b.pattern.user_pool)
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12


def test_the_api_logs_to_a_retained_group_with_a_role_limited_to_appsync_log_groups(built) -> None:
    b = built["Default"]
    (group,) = [g for g in b.resources("AWS::Logs::LogGroup").values() if "appsync" in str(g["Properties"])]
    assert group["Properties"]["RetentionInDays"] == 30
    b.template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    roles = b.resources("AWS::IAM::Role")
    log_role = next(k for k, r in roles.items() if "appsync" in str(r["Properties"]["AssumeRolePolicyDocument"])
                    and "ManagedPolicyArns" not in r["Properties"] and "LogsRole" in k)
    assert b.props(b.pattern.api)["LogConfig"]["CloudWatchLogsRoleArn"] == {"Fn::GetAtt": [log_role, "Arn"]}


def test_the_schema_restricts_notes_to_the_group_and_writes_to_cognito_users(built) -> None:
    schema = _schema(built["Default"])
    assert 'notes: String @aws_cognito_user_pools(cognito_groups: ["editors"])' in schema
    assert "type Mutation @aws_cognito_user_pools {" in schema
    assert "type Query @aws_api_key @aws_cognito_user_pools {" in schema
    assert 'cognito_groups: ["buyers"]' in _schema(built["Tuned"])


def test_dynamodb_resolvers_get_put_scan_and_query_the_owner_index_in_pages(built) -> None:
    b = built["Default"]
    resolvers = _resolvers(b)
    assert set(resolvers) == {
        ("Query", "item"), ("Query", "items"), ("Query", "itemsByOwner"), ("Mutation", "addItem"),
        ("Item", "priceLabel"),
    }
    assert '"operation": "GetItem"' in resolvers[("Query", "item")]["RequestMappingTemplate"]
    put = resolvers[("Mutation", "addItem")]["RequestMappingTemplate"]
    assert '"operation": "PutItem"' in put and "$util.autoId()" in put and "$util.time.nowISO8601()" in put
    scan, query = resolvers[("Query", "items")], resolvers[("Query", "itemsByOwner")]
    assert '"operation": "Scan"' in scan["RequestMappingTemplate"]
    assert '"index": "byOwner"' in query["RequestMappingTemplate"]
    for page in (scan, query):
        assert "$util.defaultIfNull($ctx.args.limit, 20)" in page["RequestMappingTemplate"]
        assert "$ctx.args.limit > 100" in page["RequestMappingTemplate"]
        assert "nextToken" in page["ResponseMappingTemplate"]
    tuned = _resolvers(built["Tuned"])[("Query", "items")]["RequestMappingTemplate"]
    assert "$ctx.args.limit, 5)" in tuned and "$ctx.args.limit > 50" in tuned
    table = b.props(b.pattern.table)
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "byOwner"
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_price_label_is_a_direct_lambda_resolver_of_the_pricing_function(built) -> None:
    b = built["Default"]
    resolver = _resolvers(b)[("Item", "priceLabel")]
    assert "RequestMappingTemplate" not in resolver and "ResponseMappingTemplate" not in resolver
    sources = {s["Properties"]["Name"]: s["Properties"] for s in b.resources("AWS::AppSync::DataSource").values()}
    assert resolver["DataSourceName"] == "PricingSource"
    assert sources["PricingSource"]["LambdaConfig"]["LambdaFunctionArn"] == b.arn(b.pattern.function)
    assert sources["ItemsSource"]["DynamoDBConfig"]["TableName"] == b.ref(b.pattern.table)
    assert b.env(b.pattern.function)["CURRENCY"] == "EUR"
    assert b.props(b.pattern.function)["Handler"] == "pricing.handler"
    assert b.statements(b.pattern.function.role) == [
        s for s in b.statements(b.pattern.function.role) if not any(a.startswith("dynamodb:") for a in action_set(s))
    ]
    t = built["Tuned"]
    env = t.env(t.pattern.function)
    assert (env["CURRENCY"], env["EXTRA"]) == ("CHF", "1")
    assert t.props(t.pattern.api)["Name"] == "shop"
    assert t.props(t.pattern.table)["DeletionProtectionEnabled"] is True


def test_existing_user_pool_is_used_and_no_pool_or_group_is_created(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::Cognito::UserPool", 0)
    b.template.resource_count_is("AWS::Cognito::UserPoolGroup", 0)
    assert b.pattern.group is None
    provider = b.props(b.pattern.api)["AdditionalAuthenticationProviders"][0]
    assert provider["UserPoolConfig"]["UserPoolId"] == POOL_ID


def test_swapped_handler_code_keeps_the_wiring(built) -> None:
    b = built["Swap"]
    props = b.props(b.pattern.function)
    assert props["Handler"] == "index.handler" and "ZipFile" in props["Code"]
    assert ("Item", "priceLabel") in _resolvers(b)


def test_grants_read_the_items_table(built) -> None:
    b = built["Grants"]
    client = [
        s for p in b.resources("AWS::IAM::Policy").values()
        if any("Client" in str(r) for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in client for a in action_set(s)}
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"} <= actions
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & actions


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"existing_user_pool": lambda s: cognito.UserPool.from_user_pool_id(s, "P", POOL_ID), "user_pool_props": {}},
         "existing_user_pool.*user_pool_props"),
        ({"user_pool_props": {"self_sign_up_enabled": True}}, "self_sign_up_enabled"),
        ({"restricted_group": "two words"}, "restricted_group"),
        ({"restricted_group": ""}, "restricted_group"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": 30, "max_page_size": 20}, "max_page_size"),
        ({"max_page_size": 1001}, "max_page_size"),
        ({"api_key_days": 0}, "api_key_days"),
        ({"api_key_days": 366}, "api_key_days"),
        ({"currency": "eur"}, "currency"),
        ({"table_props": {"partition_key": None}}, "partition_key"),
        ({"function_options": core.FunctionOptions(environment={"CURRENCY": "USD"})}, "CURRENCY"),
    ],
    ids=["pool-both", "self-sign-up", "group-space", "group-empty", "page-zero", "page-101", "max-below-page",
         "max-1001", "key-0-days", "key-366-days", "currency-lower", "table-key", "reserved-env"],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str) -> None:
    stack = Stack(new_app(), "Invalid")
    with pytest.raises(ValueError, match=message):
        GraphQlEndpoint(stack, "Items", **_helpers.with_existing(stack, props))
