"""Front door features on APIs built with boto3 in a local cloud (no CDK synth): AWS service actions,
non-proxy Lambda, REQUEST/IAM authorization, HTTP integrations, gateway responses, overrides,
CloudFormation updates and the default (moto Lambda backend) invoke path.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from patterns.local import LocalCloud
from patterns.local.frontdoor.apigateway import FrontDoor, match_path, rank_template
from patterns.local.models.apigateway import MODELS, install

from .apigateway_fixtures import ACCOUNT, REGION

FUNCTIONS = {
    "doubler": """
def handler(event, context):
    if event["n"] < 0:
        raise ValueError("BadInput: n must not be negative")
    return {"double": event["n"] * 2, "id": event["id"]}
""",
    "proxy": """
import base64, json
def handler(event, context):
    if event.get("path", "").endswith("/png"):
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(b"\\x89PNG-bytes").decode()}
    return {"statusCode": 200, "body": json.dumps({"ctx": event["requestContext"], "body": event["body"],
            "isBase64Encoded": event["isBase64Encoded"], "version": event.get("version")})}
""",
    "authorizer": """
def handler(event, context):
    arn = event["methodArn"]
    base = arn.split("/")[0]
    return {
        "principalId": event["headers"]["X-User"],
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": base + "/dev/GET/docs/*"},
            {"Action": "execute-api:*", "Effect": "Deny", "Resource": base + "/dev/GET/docs/secret"},
        ]},
        "context": {"tenant": event["queryStringParameters"]["tenant"]},
    }
""",
}


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


class Env:
    """A running local cloud with three functions, an echo HTTP server and helpers to build APIs."""

    def __init__(self, local: LocalCloud, arns: dict[str, str], echo: str) -> None:
        self.local = local
        self.arns = arns
        self.echo = echo
        self.client = local.client("apigateway")

    def events(self, function: str) -> list[dict[str, Any]]:
        return [invocation.event for invocation in self.local.invocations(function)]

    def lambda_uri(self, name: str) -> str:
        return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{self.arns[name]}/invocations"

    def api(self, name: str) -> tuple[str, str]:
        api = self.client.create_rest_api(name=name)
        return api["id"], api["rootResourceId"]

    def method(
        self,
        api_id: str,
        parent_id: str,
        path_part: str | None,
        http_method: str,
        integration: dict[str, Any],
        responses: list[dict[str, Any]] = (),  # type: ignore[assignment]
        **method_args: Any,
    ) -> str:
        resource_id = parent_id
        if path_part:
            resource_id = self.client.create_resource(restApiId=api_id, parentId=parent_id, pathPart=path_part)["id"]
        method_args.setdefault("authorizationType", "NONE")
        self.client.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=http_method, **method_args)
        self.client.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod=http_method, **integration)
        for response in responses:
            self.client.put_integration_response(
                restApiId=api_id, resourceId=resource_id, httpMethod=http_method, **response
            )
        return resource_id

    def deploy(self, api_id: str, **variables: str) -> str:
        self.client.create_deployment(restApiId=api_id, stageName="dev", variables=variables)
        return self.local.api_url(api_id, "dev")

    def http_api(self, name: str, route_key: str, integration: dict[str, Any], **route_args: Any) -> str:
        """An HTTP API with one route to one integration on an auto-deployed $default stage: its URL."""
        client = self.local.client("apigatewayv2")
        api_id = client.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
        integration_id = client.create_integration(ApiId=api_id, **integration)["IntegrationId"]
        client.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration_id}", **route_args)
        client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        return self.local.api_url(api_id, "$default")


def _echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    request = Request(environ)
    document = {
        "method": request.method,
        "path": request.path,
        "query": request.args.to_dict(flat=False),
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "body": request.get_data(as_text=True),
    }
    return Response(json.dumps(document), status=207, content_type="application/json")(environ, start_response)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    echo_server = make_server("127.0.0.1", 0, _echo_app, threaded=True)
    echo_thread = threading.Thread(target=echo_server.serve_forever, daemon=True)
    echo_thread.start()
    try:
        with LocalCloud() as local:
            role = local.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            lambda_client = local.client("lambda")
            arns = {
                name: lambda_client.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=role,
                    Handler="index.handler",
                    Code={"ZipFile": _zip(source)},
                )["FunctionArn"]
                for name, source in FUNCTIONS.items()
            }
            yield Env(local, arns, f"http://127.0.0.1:{echo_server.server_port}")
    finally:
        echo_server.shutdown()
        echo_server.server_close()
        echo_thread.join()


def test_path_matching_and_specificity() -> None:
    assert match_path("/items/{id}", "/items/7") == {"id": "7"}
    assert match_path("/items/{id}", "/items/7/x") is None
    assert match_path("/{proxy+}", "/a/b/c") == {"proxy": "a/b/c"}
    assert match_path("/{proxy+}", "/") is None
    assert match_path("/", "/") == {}
    templates = ["/{proxy+}", "/items/{id}", "/items/special", "/items/{id}/{rest+}"]
    matching = [t for t in templates if match_path(t, "/items/special") is not None]
    assert sorted(matching, key=rank_template) == ["/items/special", "/items/{id}", "/{proxy+}"]


def test_install_is_idempotent_and_wins_over_moto_models() -> None:
    import moto.cloudformation.parsing as parsing

    install()
    install()

    model_map = parsing.get_model_map()
    assert all(model_map[m.CFN_TYPE] is m for m in MODELS)
    assert len(MODELS) == 18


def test_dynamodb_put_and_get_item_actions_with_selection_patterns(env: Env) -> None:
    env.local.client("dynamodb").create_table(
        TableName="notes",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    api_id, root = env.api("notes")
    notes = env.method(
        api_id,
        root,
        "notes",
        "POST",
        {
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:dynamodb:action/PutItem",
            "requestTemplates": {
                "application/json": '{"TableName": "$stageVariables.table", '
                '"Item": {"pk": {"S": "$input.path(\'$.id\')"}, '
                '"text": {"S": "$util.escapeJavaScript($input.path(\'$.text\'))"}}}'
            },
        },
        [
            {
                "statusCode": "201",
                "selectionPattern": "2\\d{2}",
                "responseTemplates": {"application/json": '{"ok": true}'},
            },
            {
                "statusCode": "400",
                "selectionPattern": "4\\d{2}",
                "responseTemplates": {"application/json": '{"error": "$input.path(\'$.__type\')"}'},
            },
        ],
    )
    env.method(
        api_id,
        notes,
        "{id}",
        "GET",
        {
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:dynamodb:action/GetItem",
            "requestTemplates": {
                "application/json": '{"TableName": "notes", "Key": {"pk": {"S": "$input.params(\'id\')"}}}'
            },
        },
        [
            {
                "statusCode": "200",
                "responseTemplates": {
                    "application/json": '{"text": "$util.escapeJavaScript($input.path(\'$.Item.text.S\'))"}'
                },
            }
        ],
    )
    url = env.deploy(api_id, table="notes")
    stored = requests.post(f"{url}/notes", json={"id": "n1", "text": 'say "hi"'}, timeout=5)
    fetched = requests.get(f"{url}/notes/n1", timeout=5)
    env.client.update_stage(
        restApiId=api_id,
        stageName="dev",
        patchOperations=[{"op": "replace", "path": "/variables/table", "value": "gone"}],
    )
    missing_table = requests.post(f"{url}/notes", json={"id": "n2", "text": "x"}, timeout=5)

    assert (stored.status_code, stored.json()) == (201, {"ok": True})
    assert (fetched.status_code, fetched.json()) == (200, {"text": 'say "hi"'})
    assert missing_table.status_code == 400
    assert "ResourceNotFoundException" in missing_table.json()["error"]


def test_sns_eventbridge_and_step_functions_actions(env: Env) -> None:
    sqs = env.local.client("sqs")
    sink = sqs.create_queue(QueueName="sink")["QueueUrl"]
    sink_arn = sqs.get_queue_attributes(QueueUrl=sink, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = env.local.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sink_arn, Attributes={"RawMessageDelivery": "true"})
    events = env.local.client("events")
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "sink", "Arn": sink_arn}])
    sfn = env.local.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="flow",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    api_id, root = env.api("services")
    ok = [{"statusCode": "200"}]
    env.method(
        api_id,
        root,
        "publish",
        "POST",
        {
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:sns:action/Publish",
            "requestParameters": {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
            "requestTemplates": {
                "application/json": f"TopicArn=$util.urlEncode('{topic}')&Message=$util.urlEncode($input.body)"
            },
        },
        [
            {
                "statusCode": "200",
                "responseTemplates": {"application/json": "$input.json('$.PublishResponse.PublishResult')"},
            }
        ],
    )
    env.method(
        api_id,
        root,
        "events",
        "POST",
        {
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:events:action/PutEvents",
            "requestTemplates": {
                "application/json": '{"Entries": [{"Source": "shop", "DetailType": "order", '
                '"Detail": "$util.escapeJavaScript($input.json(\'$\'))", "EventBusName": "default"}]}'
            },
        },
        ok,
    )
    env.method(
        api_id,
        root,
        "flows",
        "POST",
        {
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:states:action/StartExecution",
            "requestTemplates": {
                "application/json": '{"stateMachineArn": "'
                + machine
                + '", "input": "$util.escapeJavaScript($input.json(\'$\'))"}'
            },
        },
        ok,
    )
    url = env.deploy(api_id)

    published = requests.post(f"{url}/publish", json={"via": "sns"}, timeout=5)
    put = requests.post(f"{url}/events", json={"via": "events"}, timeout=5)
    started = requests.post(f"{url}/flows", json={"via": "sfn"}, timeout=5)

    assert published.status_code == put.status_code == started.status_code == 200
    assert "MessageId" in published.json()
    assert put.json()["FailedEntryCount"] == 0
    assert started.json()["executionArn"].startswith("arn:aws:states:")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10)["Messages"]]
    assert {"via": "sns"} in bodies
    assert any(b.get("detail") == {"via": "events"} for b in bodies)
    execution = sfn.list_executions(stateMachineArn=machine)["executions"][0]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {"via": "sfn"}


def test_lambda_non_proxy_integration_maps_errors_by_error_message(env: Env) -> None:
    api_id, root = env.api("calc")
    env.method(
        api_id,
        root,
        "{id}",
        "POST",
        {
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": env.lambda_uri("doubler"),
            "requestTemplates": {"application/json": '{"n": $input.path(\'$.n\'), "id": "$input.params(\'id\')"}'},
        },
        [
            {"statusCode": "200", "responseTemplates": {"application/json": "{\"result\": $input.json('$.double')}"}},
            {
                "statusCode": "422",
                "selectionPattern": "BadInput:.*",
                "responseTemplates": {"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'},
            },
        ],
    )
    url = env.deploy(api_id)

    ok = requests.post(f"{url}/a1", json={"n": 21}, timeout=5)
    bad = requests.post(f"{url}/a1", json={"n": -1}, timeout=5)

    assert (ok.status_code, ok.json()) == (200, {"result": 42})
    assert (bad.status_code, bad.json()) == (422, {"error": "BadInput: n must not be negative"})
    assert env.events("doubler")[0] == {"n": 21, "id": "a1"}


def test_request_authorizer_identity_sources_and_policy_resources(env: Env) -> None:
    api_id, root = env.api("docs")
    authorizer = env.client.create_authorizer(
        restApiId=api_id,
        name="req",
        type="REQUEST",
        authorizerUri=env.lambda_uri("authorizer"),
        identitySource="method.request.header.X-User,method.request.querystring.tenant",
        authorizerResultTtlInSeconds=0,
    )["id"]
    docs = env.client.create_resource(restApiId=api_id, parentId=root, pathPart="docs")["id"]
    integration = {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": env.lambda_uri("proxy")}
    custom = {"authorizationType": "CUSTOM", "authorizerId": authorizer}
    doc = env.method(api_id, docs, "{doc}", "GET", integration, **custom)
    env.method(api_id, doc, None, "POST", integration, **custom)
    url = env.deploy(api_id)
    calls_before = len(env.events("authorizer"))

    no_tenant = requests.get(f"{url}/docs/readme", headers={"X-User": "ann"}, timeout=5)
    allowed = requests.get(f"{url}/docs/readme?tenant=t1", headers={"X-User": "ann"}, timeout=5)
    not_allowed = requests.post(f"{url}/docs/readme?tenant=t1", headers={"X-User": "ann"}, timeout=5)
    denied = requests.get(f"{url}/docs/secret?tenant=t1", headers={"X-User": "ann"}, timeout=5)

    assert (no_tenant.status_code, no_tenant.json()) == (401, {"message": "Unauthorized"})
    assert allowed.status_code == 200
    assert allowed.json()["ctx"]["authorizer"]["tenant"] == "t1"
    assert allowed.json()["ctx"]["authorizer"]["principalId"] == "ann"
    assert (not_allowed.status_code, not_allowed.json()) == (
        403,
        {"Message": "User is not authorized to access this resource"},
    )
    assert denied.status_code == 403
    assert len(env.events("authorizer")) - calls_before == 3  # TTL 0: no cache, none for 401
    event = env.events("authorizer")[-1]
    assert (event["type"], event["pathParameters"], event["resource"]) == ("REQUEST", {"doc": "secret"}, "/docs/{doc}")


def test_aws_iam_authorization_is_accepted_and_recorded(env: Env) -> None:
    api_id, root = env.api("iam")
    env.method(
        api_id,
        root,
        "whoami",
        "GET",
        {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": env.lambda_uri("proxy")},
        authorizationType="AWS_IAM",
    )
    url = env.deploy(api_id)
    signature = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE123/20260101/us-east-1/execute-api/aws4_request, Signature=x"

    signed = requests.get(f"{url}/whoami", headers={"Authorization": signature}, timeout=5)

    assert signed.status_code == 200
    assert signed.json()["ctx"]["identity"]["accessKey"] == "AKIAEXAMPLE123"


def test_http_and_http_proxy_integrations_with_mappings_and_overrides(env: Env) -> None:
    api_id, root = env.api("http")
    env.method(
        api_id,
        root,
        "{proxy+}",
        "ANY",
        {
            "type": "HTTP_PROXY",
            "integrationHttpMethod": "ANY",
            "uri": env.echo + "/echo/{proxy}",
            "requestParameters": {"integration.request.path.proxy": "method.request.path.proxy"},
        },
    )
    env.method(
        api_id,
        root,
        "mapped",
        "POST",
        {
            "type": "HTTP",
            "integrationHttpMethod": "PUT",
            "uri": env.echo + "/target/{id}",
            "requestParameters": {
                "integration.request.path.id": "method.request.querystring.id",
                "integration.request.header.X-Stage": "stageVariables.flavour",
                "integration.request.querystring.from": "'gateway'",
            },
            "requestTemplates": {
                "application/json": '#set($context.requestOverride.header.X-Override = "yes")'
                "{\"wrapped\": $input.json('$')}"
            },
        },
        [
            {
                "statusCode": "200",
                "selectionPattern": "2\\d{2}",
                "responseParameters": {
                    "method.response.header.X-Upstream-Type": "integration.response.header.Content-Type"
                },
                "responseTemplates": {
                    "application/json": "#set($context.responseOverride.status = 418)$input.json('$')"
                },
            }
        ],
    )
    url = env.deploy(api_id, flavour="vanilla")

    proxied = requests.patch(f"{url}/a/b?x=1", data="raw", headers={"X-Client": "c"}, timeout=5)
    mapped = requests.post(f"{url}/mapped?id=42", json={"k": "v"}, timeout=5)

    assert proxied.status_code == 207
    echoed = proxied.json()
    assert (echoed["method"], echoed["path"], echoed["query"], echoed["body"]) == (
        "PATCH",
        "/echo/a/b",
        {"x": ["1"]},
        "raw",
    )
    assert echoed["headers"]["x-client"] == "c"
    assert mapped.status_code == 418
    assert mapped.headers["X-Upstream-Type"] == "application/json"
    upstream = mapped.json()
    assert (upstream["method"], upstream["path"], upstream["query"]) == ("PUT", "/target/42", {"from": ["gateway"]})
    assert (upstream["headers"]["x-stage"], upstream["headers"]["x-override"]) == ("vanilla", "yes")
    assert json.loads(upstream["body"]) == {"wrapped": {"k": "v"}}


def test_binary_media_types_and_base64_proxy_responses(env: Env) -> None:
    api_id, root = env.api("binary")
    env.client.update_rest_api(
        restApiId=api_id, patchOperations=[{"op": "add", "path": "/binaryMediaTypes/image~1png", "value": "image/png"}]
    )
    proxy = {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": env.lambda_uri("proxy")}
    env.method(api_id, root, "upload", "POST", proxy)
    env.method(api_id, root, "png", "GET", proxy)
    url = env.deploy(api_id)

    uploaded = requests.post(f"{url}/upload", data=b"\x00\x01binary", headers={"Content-Type": "image/png"}, timeout=5)
    image = requests.get(f"{url}/png", timeout=5)

    assert uploaded.json()["isBase64Encoded"] is True
    assert base64.b64decode(uploaded.json()["body"]) == b"\x00\x01binary"
    assert (image.headers["Content-Type"], image.content) == ("image/png", b"\x89PNG-bytes")


def test_gateway_responses_customize_status_headers_and_body(env: Env) -> None:
    api_id, root = env.api("gateway-responses")
    env.client.create_model(
        restApiId=api_id,
        name="Thing",
        contentType="application/json",
        schema=json.dumps({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}),
    )
    validator = env.client.create_request_validator(restApiId=api_id, name="body", validateRequestBody=True)["id"]
    env.method(
        api_id,
        root,
        "things",
        "POST",
        {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
        [{"statusCode": "200"}],
        requestValidatorId=validator,
        requestModels={"application/json": "Thing"},
    )
    env.client.put_gateway_response(
        restApiId=api_id,
        responseType="BAD_REQUEST_BODY",
        statusCode="422",
        responseParameters={"gatewayresponse.header.X-Error": "'validation'"},
        responseTemplates={
            "application/json": '{"error": $context.error.messageString, '
            '"details": "$context.error.validationErrorString"}'
        },
    )
    env.client.put_gateway_response(
        restApiId=api_id,
        responseType="MISSING_AUTHENTICATION_TOKEN",
        statusCode="404",
        responseTemplates={"application/json": '{"error": "no such route", "type": "$context.error.responseType"}'},
    )
    url = env.deploy(api_id)

    invalid = requests.post(f"{url}/things", json={"name": 5}, timeout=5)
    unknown = requests.get(f"{url}/nope", timeout=5)

    assert (invalid.status_code, invalid.headers["X-Error"]) == (422, "validation")
    assert invalid.json()["error"] == "Invalid request body"
    assert "is not of type 'string'" in invalid.json()["details"]
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": "no such route", "type": "MISSING_AUTHENTICATION_TOKEN"},
    )


def _template(version: str) -> dict[str, Any]:
    """A hand-written stack: a MOCK REST API whose answer and stage variable change per version,
    and an HTTP API created with quick create (Target = Lambda ARN)."""
    return {
        "Parameters": {"ProxyArn": {"Type": "String"}},
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "cfn", "Description": version}},
            "Hello": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                    "PathPart": "hello",
                },
            },
            "HelloGet": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResourceId": {"Ref": "Hello"},
                    "HttpMethod": "GET",
                    "AuthorizationType": "NONE",
                    "Integration": {
                        "Type": "MOCK",
                        "RequestTemplates": {"application/json": '{"statusCode": 200}'},
                        "IntegrationResponses": [
                            {
                                "StatusCode": "200",
                                "ResponseTemplates": {
                                    "application/json": '{"version": "' + version + '", "var": "$stageVariables.v"}'
                                },
                            }
                        ],
                    },
                    "MethodResponses": [{"StatusCode": "200"}],
                },
            },
            f"Deployment{version}": {
                "Type": "AWS::ApiGateway::Deployment",
                "DependsOn": ["HelloGet"],
                "Properties": {"RestApiId": {"Ref": "Api"}},
            },
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "DeploymentId": {"Ref": f"Deployment{version}"},
                    "StageName": "live",
                    "Variables": {"v": version},
                },
            },
            "Quick": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {"Name": "quick", "ProtocolType": "HTTP", "Target": {"Ref": "ProxyArn"}},
            },
        },
        "Outputs": {"ApiId": {"Value": {"Ref": "Api"}}, "QuickId": {"Value": {"Ref": "Quick"}}},
    }


def test_cloudformation_create_update_and_delete_are_served(env: Env) -> None:
    cfn = env.local.client("cloudformation")
    parameters = [{"ParameterKey": "ProxyArn", "ParameterValue": env.arns["proxy"]}]
    cfn.create_stack(StackName="cfn", TemplateBody=json.dumps(_template("one")), Parameters=parameters)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="cfn")["Stacks"][0]["Outputs"]}
    url = env.local.api_url(outputs["ApiId"], "live")
    quick = env.local.api_url(outputs["QuickId"], "$default")

    first = requests.get(f"{url}/hello", timeout=5)
    quick_answer = requests.post(f"{quick}/any/path", data="hi", timeout=5)
    cfn.update_stack(StackName="cfn", TemplateBody=json.dumps(_template("two")), Parameters=parameters)
    second = requests.get(f"{url}/hello", timeout=5)
    deployments = env.client.get_deployments(restApiId=outputs["ApiId"])["items"]
    cfn.delete_stack(StackName="cfn")
    after_delete = requests.get(f"{url}/hello", timeout=5)

    assert first.json() == {"version": "one", "var": "one"}
    assert quick_answer.json()["version"] == "2.0"
    assert quick_answer.json()["body"] == "hi"
    assert second.json() == {"version": "two", "var": "two"}
    assert len(deployments) == 1  # the replaced deployment was removed by the update
    assert after_delete.status_code == 404
    assert all(api["name"] != "cfn" for api in env.client.get_rest_apis()["items"])


def test_default_invoke_goes_through_motos_lambda_backend(env: Env) -> None:
    """Without ``invoke`` the front door calls moto's Lambda backend, which the local cloud hooks."""
    api_id, root = env.api("default-invoke")
    env.method(
        api_id,
        root,
        "hi",
        "GET",
        {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": env.lambda_uri("proxy")},
    )
    env.deploy(api_id)
    before = len(env.events("proxy"))

    with FrontDoor(backend_lock=env.local.core.lock) as door:
        response = requests.get(door.url_for(api_id, "dev") + "/hi", timeout=5)

    assert response.status_code == 200
    assert response.json()["ctx"]["resourcePath"] == "/hi"
    assert len(env.events("proxy")) == before + 1


def test_http_api_http_proxy_integration_and_iam_route(env: Env) -> None:
    url = env.http_api(
        "passthrough",
        "ANY /files/{proxy+}",
        {
            "IntegrationType": "HTTP_PROXY",
            "IntegrationMethod": "ANY",
            "IntegrationUri": env.echo + "/upstream/{proxy}",
            "PayloadFormatVersion": "1.0",
        },
        AuthorizationType="AWS_IAM",
    )

    response = requests.put(f"{url}/files/a/b.txt?v=2", data="content", timeout=5)

    assert response.status_code == 207
    upstream = response.json()
    assert (upstream["method"], upstream["path"], upstream["query"], upstream["body"]) == (
        "PUT",
        "/upstream/a/b.txt",
        {"v": ["2"]},
        "content",
    )


def test_http_api_step_functions_subtype_maps_request_parameters(env: Env) -> None:
    sfn = env.local.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="from-http-api",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    url = env.http_api(
        "flows",
        "POST /runs",
        {
            "IntegrationType": "AWS_PROXY",
            "IntegrationSubtype": "StepFunctions-StartExecution",
            "CredentialsArn": f"arn:aws:iam::{ACCOUNT}:role/apigw",
            "PayloadFormatVersion": "1.0",
            "RequestParameters": {
                "StateMachineArn": machine,
                "Input": "$request.body",
                "Name": "$request.header.x-run",
            },
        },
    )

    response = requests.post(f"{url}/runs", json={"order": 1}, headers={"x-run": "run-1"}, timeout=5)

    assert response.status_code == 200
    assert response.json()["executionArn"].endswith(":run-1")
    assert json.loads(sfn.describe_execution(executionArn=response.json()["executionArn"])["input"]) == {"order": 1}
