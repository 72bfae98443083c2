"""A CDK AppSync GraphQL API deployed into the local cloud and queried over HTTP on the front door.

One stack, deployed once: DynamoDB resolvers from CDK's MappingTemplate helpers (get, put, query
on an index, scan pages), a direct Lambda resolver (a computed field), a Lambda resolver with
templates, a PIPELINE resolver over a NONE data source, ``$util.error``; API key (default),
Cognito user pool (a group-restricted field) and IAM (SigV4 with the local keys) authorization.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from patterns.local import LocalCloud
from patterns.local.errors import LocalCloudError

from .apigateway_fixtures import PASSWORD, events, new_stack, synthesize
from .conftest import inline_function

SCHEMA = """
type Item @aws_api_key @aws_cognito_user_pools @aws_iam {
  id: ID!
  owner: String
  name: String
  score: Int
  secret: String @aws_cognito_user_pools(cognito_groups: ["admins"])
}
type ItemPage { items: [Item] nextToken: String }
input ItemInput { owner: String! name: String! secret: String }
type Query {
  item(id: ID!): Item @aws_api_key @aws_cognito_user_pools @aws_iam
  byOwner(owner: String!): [Item]
  items(limit: Int, nextToken: String): ItemPage
  echo(msg: String): AWSJSON
  shout(text: String!): String
  fail(msg: String!): String
  whoami: AWSJSON @aws_cognito_user_pools @aws_iam
}
type Mutation { addItem(input: ItemInput!): Item }
"""

SCORE = """
def handler(event, context):
    return len(event["source"]["name"]) * 10
"""

SHOUT = """
def handler(event, context):
    if event["text"] == "boom":
        raise ValueError("no shouting")
    return event["text"].upper() + "!"
"""

PAGE = """{"version": "2017-02-28", "operation": "Scan",
 "limit": $util.defaultIfNull($ctx.args.limit, 20),
 "nextToken": $util.toJson($util.defaultIfNullOrEmpty($ctx.args.nextToken, null))}"""
PAGE_RESULT = '{"items": $util.toJson($ctx.result.items), "nextToken": $util.toJson($ctx.result.nextToken)}'


def _build(app: Any, schema_file: Path) -> list[str]:
    import aws_cdk as cdk
    from aws_cdk import aws_appsync as appsync
    from aws_cdk import aws_cognito as cognito
    from aws_cdk import aws_dynamodb as dynamodb

    stack = new_stack(app, "GraphQl")
    pool = cognito.UserPool(stack, "Pool", removal_policy=cdk.RemovalPolicy.DESTROY)
    client = pool.add_client("Spa", auth_flows=cognito.AuthFlow(user_password=True))
    cognito.CfnUserPoolGroup(stack, "Admins", user_pool_id=pool.user_pool_id, group_name="admins")
    api = appsync.GraphqlApi(
        stack,
        "Api",
        name="items",
        definition=appsync.Definition.from_schema(appsync.SchemaFile.from_asset(str(schema_file))),
        authorization_config=appsync.AuthorizationConfig(
            default_authorization=appsync.AuthorizationMode(authorization_type=appsync.AuthorizationType.API_KEY),
            additional_authorization_modes=[
                appsync.AuthorizationMode(
                    authorization_type=appsync.AuthorizationType.USER_POOL,
                    user_pool_config=appsync.UserPoolConfig(user_pool=pool),
                ),
                appsync.AuthorizationMode(authorization_type=appsync.AuthorizationType.IAM),
            ],
        ),
        xray_enabled=True,
    )
    table = dynamodb.Table(
        stack, "Items", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
    )
    table.add_global_secondary_index(
        index_name="byOwner", partition_key=dynamodb.Attribute(name="owner", type=dynamodb.AttributeType.STRING)
    )
    items = api.add_dynamo_db_data_source("ItemsSource", table)
    templates = appsync.MappingTemplate
    items.create_resolver(
        "ItemResolver",
        type_name="Query",
        field_name="item",
        request_mapping_template=templates.dynamo_db_get_item("id", "id"),
        response_mapping_template=templates.dynamo_db_result_item(),
    )
    items.create_resolver(
        "AddItemResolver",
        type_name="Mutation",
        field_name="addItem",
        request_mapping_template=templates.dynamo_db_put_item(
            appsync.PrimaryKey.partition("id").auto(), appsync.Values.projecting("input")
        ),
        response_mapping_template=templates.dynamo_db_result_item(),
    )
    items.create_resolver(
        "ByOwnerResolver",
        type_name="Query",
        field_name="byOwner",
        request_mapping_template=templates.dynamo_db_query(appsync.KeyCondition.eq("owner", "owner"), "byOwner"),
        response_mapping_template=templates.dynamo_db_result_list(),
    )
    items.create_resolver(
        "ItemsResolver",
        type_name="Query",
        field_name="items",
        request_mapping_template=templates.from_string(PAGE),
        response_mapping_template=templates.from_string(PAGE_RESULT),
    )
    score = api.add_lambda_data_source("ScoreSource", inline_function(stack, "Score", SCORE))
    score.create_resolver("ScoreResolver", type_name="Item", field_name="score")
    shout = api.add_lambda_data_source("ShoutSource", inline_function(stack, "Shout", SHOUT))
    shout.create_resolver(
        "ShoutResolver",
        type_name="Query",
        field_name="shout",
        request_mapping_template=templates.lambda_request("$util.toJson($ctx.args)"),
        response_mapping_template=templates.lambda_result(),
    )
    none = api.add_none_data_source("Local")
    stash = appsync.AppsyncFunction(
        stack,
        "Stash",
        name="stash",
        api=api,
        data_source=none,
        request_mapping_template=templates.from_string(
            '$util.qr($ctx.stash.put("seen", true)){"version": "2018-05-29", "payload": $util.toJson($ctx.args)}'
        ),
        response_mapping_template=templates.from_string("$util.toJson($ctx.result)"),
    )
    decorate = appsync.AppsyncFunction(
        stack,
        "Decorate",
        name="decorate",
        api=api,
        data_source=none,
        request_mapping_template=templates.from_string(
            '{"version": "2018-05-29", "payload": {"msg": "$ctx.prev.result.msg", "seen": $ctx.stash.seen}}'
        ),
        response_mapping_template=templates.from_string("$util.toJson($ctx.result)"),
    )
    appsync.Resolver(
        stack,
        "EchoResolver",
        api=api,
        type_name="Query",
        field_name="echo",
        pipeline_config=[stash, decorate],
        request_mapping_template=templates.from_string("{}"),
        response_mapping_template=templates.from_string("$util.toJson($ctx.prev.result)"),
    )
    none.create_resolver(
        "FailResolver",
        type_name="Query",
        field_name="fail",
        request_mapping_template=templates.from_string('{"version": "2018-05-29", "payload": {}}'),
        response_mapping_template=templates.from_string('$util.error($ctx.args.msg, "Custom", {"why": "asked"})'),
    )
    none.create_resolver(
        "WhoAmIResolver",
        type_name="Query",
        field_name="whoami",
        request_mapping_template=templates.from_string('{"version": "2018-05-29", "payload": {}}'),
        response_mapping_template=templates.from_string("$util.toJson($ctx.identity)"),
    )
    cdk.CfnOutput(stack, "Url", value=api.graphql_url)
    cdk.CfnOutput(stack, "ApiId", value=api.api_id)
    cdk.CfnOutput(stack, "Key", value=api.api_key or "")
    cdk.CfnOutput(stack, "PoolId", value=pool.user_pool_id)
    cdk.CfnOutput(stack, "ClientId", value=client.user_pool_client_id)
    cdk.CfnOutput(stack, "Table", value=table.table_name)

    js = new_stack(app, "GraphQlJs")
    js_api = appsync.GraphqlApi(
        js,
        "Api",
        name="js",
        definition=appsync.Definition.from_schema(appsync.SchemaFile.from_asset(str(schema_file))),
    )
    js_api.add_none_data_source("Local").create_resolver(
        "JsResolver",
        type_name="Query",
        field_name="echo",
        runtime=appsync.FunctionRuntime.JS_1_0_0,
        code=appsync.Code.from_inline(
            "export function request(ctx) { return {}; } export function response(ctx) { return 1; }"
        ),
    )
    return ["GraphQl", "GraphQlJs"]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    schema = tmp_path_factory.mktemp("appsync") / "schema.graphql"
    schema.write_text(SCHEMA)
    return synthesize(lambda app: _build(app, schema))


class Api:
    """The deployed API: its URL, key and users; ``post`` sends one GraphQL request."""

    def __init__(self, local: LocalCloud, outputs: dict[str, str]) -> None:
        self.local, self.outputs = local, outputs
        self.url = local.graphql_url(outputs["ApiId"])
        self.key = outputs["Key"]

    def post(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> requests.Response:
        return requests.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=10)

    def with_key(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables, **{"x-api-key": self.key})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def token(self, username: str, groups: tuple[str, ...] = ()) -> str:
        idp = self.local.client("cognito-idp")
        pool = self.outputs["PoolId"]
        idp.admin_create_user(UserPoolId=pool, Username=username, TemporaryPassword="Temp-Passw0rd!")
        idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
        result = idp.initiate_auth(
            ClientId=self.outputs["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        return str(result["IdToken"])


@pytest.fixture(scope="module")
def api(templates: dict[str, dict[str, Any]]) -> Iterator[Api]:
    with LocalCloud() as local:
        stack = local.deploy_template(templates["GraphQl"], "GraphQl")
        yield Api(local, stack.outputs)


ADD = "mutation Add($input: ItemInput!) { addItem(input: $input) { id owner name } }"


def test_mutations_write_items_and_queries_read_them_back(api: Api) -> None:
    sent = [
        {"owner": "ann", "name": "kettle", "secret": "s1"},
        {"owner": "ann", "name": "lamp"},
        {"owner": "bob", "name": "rug"},
    ]
    added = [api.with_key(ADD, {"input": item})["data"]["addItem"] for item in sent]

    table = api.local.client("dynamodb").scan(TableName=api.outputs["Table"])
    assert table["Count"] == len(sent)
    assert {(a["owner"], a["name"]) for a in added} == {(s["owner"], s["name"]) for s in sent}
    assert len({a["id"] for a in added}) == 3 and all(len(a["id"]) == 36 for a in added)  # $util.autoId()
    got = api.with_key("query($id: ID!) { item(id: $id) { id name owner } }", {"id": added[0]["id"]})
    assert got == {"data": {"item": {"id": added[0]["id"], "name": "kettle", "owner": "ann"}}}
    missing = api.with_key('{ item(id: "nope") { id } }')
    assert missing == {"data": {"item": None}}
    by_owner = api.with_key('{ byOwner(owner: "ann") { name } }')["data"]["byOwner"]
    assert sorted(i["name"] for i in by_owner) == ["kettle", "lamp"]


def test_scan_pages_with_next_token(api: Api) -> None:
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = api.with_key(
            "query($t: String) { items(limit: 2, nextToken: $t) { items { name } nextToken } }", {"t": token}
        )["data"]["items"]
        names += [i["name"] for i in page["items"]]
        pages += 1
        token = page["nextToken"]
        if token is None:
            break
        assert len(page["items"]) == 2
    assert sorted(names) == ["kettle", "lamp", "rug"]
    assert pages == 2
    bad = api.with_key('{ items(nextToken: "bm90LWpzb24") { nextToken } }')
    assert bad["data"] == {"items": None}
    assert bad["errors"][0]["errorType"] == "DynamoDB:InvalidPaginationToken"


def test_direct_lambda_resolver_computes_a_field_per_item(api: Api) -> None:
    by_owner = api.with_key('{ byOwner(owner: "bob") { name score } }')

    assert by_owner == {"data": {"byOwner": [{"name": "rug", "score": 30}]}}
    event = events(api.local, "GraphQl", "Score")[-1]
    assert event["source"]["name"] == "rug"
    assert event["arguments"] == {}
    assert event["identity"] is None  # API key callers have no identity
    assert event["info"]["fieldName"] == "score" and event["info"]["parentTypeName"] == "Item"
    assert event["request"]["headers"]["x-api-key"] == api.key


def test_lambda_resolver_with_templates_and_its_error(api: Api) -> None:
    assert api.with_key('{ shout(text: "hi") }') == {"data": {"shout": "HI!"}}

    failed = api.with_key('{ shout(text: "boom") }')
    assert failed["data"] == {"shout": None}
    (error,) = failed["errors"]
    assert (error["errorType"], error["message"], error["path"]) == ("Lambda:Unhandled", "no shouting", ["shout"])


def test_pipeline_resolver_passes_prev_result_and_stash(api: Api) -> None:
    echoed = api.with_key('{ echo(msg: "hello") }')["data"]["echo"]

    assert json.loads(echoed) == {"msg": "hello", "seen": True}


def test_util_error_is_a_graphql_error_with_type_and_data(api: Api) -> None:
    failed = api.with_key('{ fail(msg: "not today") }')

    assert failed["data"] == {"fail": None}
    assert failed["errors"] == [
        {
            "path": ["fail"],
            "data": {"why": "asked"},
            "errorType": "Custom",
            "errorInfo": None,
            "locations": [{"line": 1, "column": 3, "sourceName": None}],
            "message": "not today",
        }
    ]


def test_invalid_queries_are_graphql_errors_in_a_200_body(api: Api) -> None:
    unknown = api.with_key("{ nope }")
    syntax = api.with_key("{ item(id: ")
    wrong_variable = api.post("query($id: ID!) { item(id: $id) { id } }", {}, **{"x-api-key": api.key})

    assert unknown["data"] is None and unknown["errors"][0]["errorType"] == "ValidationError"
    assert "nope" in unknown["errors"][0]["message"]
    assert syntax["data"] is None and syntax["errors"][0]["errorType"] == "InvalidSyntax"
    assert wrong_variable.status_code == 200 and wrong_variable.json()["data"] is None
    assert "$id" in wrong_variable.json()["errors"][0]["message"]
    malformed = requests.post(api.url, data=b"not json", headers={"x-api-key": api.key}, timeout=10)
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["errorType"] == "MalformedHttpRequestException"


def test_requests_without_valid_auth_are_401(api: Api) -> None:
    for headers in ({}, {"x-api-key": "da2-wrong"}, {"Authorization": "not-a-jwt"}):
        response = api.post("{ echo }", **headers)
        assert response.status_code == 401, headers
        assert response.json()["errors"][0]["errorType"] == "UnauthorizedException"


def test_cognito_users_read_what_their_groups_allow(api: Api) -> None:
    admin, member = api.token("ada", groups=("admins",)), api.token("max")
    item_id = api.with_key('{ byOwner(owner: "ann") { id name } }')["data"]["byOwner"]
    kettle = next(i["id"] for i in item_id if i["name"] == "kettle")
    query = "query($id: ID!) { item(id: $id) { name secret } }"

    as_admin = api.post(query, {"id": kettle}, Authorization=admin).json()
    as_member = api.post(query, {"id": kettle}, Authorization=member).json()
    as_key = api.with_key(query, {"id": kettle})

    assert as_admin == {"data": {"item": {"name": "kettle", "secret": "s1"}}}
    for refused in (as_member, as_key):
        assert refused["data"] == {"item": {"name": "kettle", "secret": None}}
        (error,) = refused["errors"]
        assert (error["errorType"], error["path"]) == ("Unauthorized", ["item", "secret"])
        assert error["message"] == "Not Authorized to access secret on type Item"
    # Query fields without directives are the default provider's (API key) only.
    default_only = api.post('{ echo(msg: "x") }', Authorization=member).json()
    assert default_only["data"] == {"echo": None}
    assert default_only["errors"][0]["message"] == "Not Authorized to access echo on type Query"
    who = json.loads(api.post("{ whoami }", Authorization=admin).json()["data"]["whoami"])
    assert who["username"] == "ada" and who["groups"] == ["admins"]
    assert who["issuer"].endswith(api.outputs["PoolId"])
    assert api.with_key("{ whoami }")["errors"][0]["errorType"] == "Unauthorized"


def test_iam_callers_sign_with_the_local_keys(api: Api) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from patterns.local.cloud import ACCESS_KEY_ID, SECRET_ACCESS_KEY

    body = json.dumps({"query": "{ whoami }"})
    credentials = Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    signed = AWSRequest(method="POST", url=api.url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "appsync", "us-east-1").add_auth(signed)
    good = requests.post(api.url, data=body, headers=dict(signed.headers), timeout=10)
    tampered = requests.post(api.url, data=body.replace("whoami", "whoami "), headers=dict(signed.headers), timeout=10)

    assert good.status_code == 200, good.text
    who = json.loads(good.json()["data"]["whoami"])
    assert who["accountId"] == api.local.account_id and who["username"] == credentials.access_key
    assert tampered.status_code == 401


def test_outputs_name_the_local_url_and_js_resolvers_fail_at_deploy(
    api: Api, templates: dict[str, dict[str, Any]]
) -> None:
    assert api.outputs["Url"] == api.url
    assert api.local.client("appsync").get_graphql_api(apiId=api.outputs["ApiId"])["graphqlApi"]["name"] == "items"

    with pytest.raises(LocalCloudError) as refused:
        api.local.deploy_template(templates["GraphQlJs"], "GraphQlJs")
    assert "JsResolver" in str(refused.value) and "APPSYNC_JS" in str(refused.value)


def test_an_expired_api_key_is_refused(api: Api) -> None:
    assert api.post("{ echo }", **{"x-api-key": api.key}).status_code == 200

    api.local.advance(8 * 24 * 3600)  # CDK's default key expires after 7 days

    expired = api.post("{ echo }", **{"x-api-key": api.key})
    assert expired.status_code == 401
    assert expired.json()["errors"][0] == {"errorType": "UnauthorizedException", "message": "API key has expired."}
