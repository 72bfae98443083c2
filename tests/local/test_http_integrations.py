"""HTTP backends, stages and client limits of the front door, from a CDK app deployed into the local cloud.

One cloud for the module: a REST API forwarding to a function URL (HTTP_PROXY with the ``{proxy+}``
mapping CDK generates), to a slow and to a dead 127.0.0.1 server (504 / 502), two stages whose stage
variables pick the Lambda function and the backend host, an API key usage plan with a quota and a
per-method throttle, a stage method throttle, and an HTTP API stage throttle. Limits are measured on
the cloud's clock: ``advance()`` refills buckets and starts a new quota period, no sleeping.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from patterns.local import LocalCloud

from .apigateway_fixtures import new_stack, physical_id, synthesize
from .conftest import inline_function

STACK = "FrontDoorHttpBackends"
API_KEY = "gateway-test-key-0123456789"

SERVICE = """
import json


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-served-by": "service"},
        "body": json.dumps({
            "path": event["rawPath"],
            "query": event.get("rawQueryString"),
            "method": event["requestContext"]["http"]["method"],
            "iam": (event["requestContext"].get("authorizer") or {}).get("iam"),
        }),
    }
"""

VERSIONED = """
import json
import os


def handler(event, context):
    body = {"function": os.environ["VERSION"], "stage": event["stageVariables"]}
    return {"statusCode": 200, "body": json.dumps(body)}
"""


def _build(app: Any) -> list[str]:
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_apigatewayv2_integrations as integrations
    from aws_cdk import aws_lambda as lambda_

    stack = new_stack(app, STACK)
    backend = cdk.CfnParameter(stack, "BackendHost", type="String")
    dead = cdk.CfnParameter(stack, "DeadHost", type="String")

    service = inline_function(stack, "Service", SERVICE)
    service_url = service.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    private = inline_function(stack, "Private", SERVICE)
    private_url = private.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
    v1 = inline_function(stack, "V1", VERSIONED, environment={"VERSION": "v1"})
    v2 = inline_function(stack, "V2", VERSIONED, environment={"VERSION": "v2"})

    api = apigw.RestApi(
        stack,
        "Gateway",
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(
            stage_name="v1",
            variables={"fn": v1.function_name, "backend": backend.value_as_string},
            method_options={
                "/limited/GET": apigw.MethodDeploymentOptions(throttling_rate_limit=0.01, throttling_burst_limit=2)
            },
        ),
    )
    legacy = api.root.add_resource("legacy").add_resource("{proxy+}")
    legacy.add_method(
        "ANY",
        apigw.HttpIntegration(
            cdk.Fn.join("", [service_url.url, "{proxy}"]),
            http_method="ANY",
            proxy=True,
            options=apigw.IntegrationOptions(
                request_parameters={"integration.request.path.proxy": "method.request.path.proxy"}
            ),
        ),
        request_parameters={"method.request.path.proxy": True},
    )
    slow_integration = apigw.HttpIntegration(
        "http://${stageVariables.backend}/slow",
        http_method="GET",
        proxy=True,
        options=apigw.IntegrationOptions(timeout=cdk.Duration.millis(300)),
    )
    api.root.add_resource("slow").add_method("GET", slow_integration)
    api.root.add_resource("fast").add_method(
        "GET", apigw.HttpIntegration("http://${stageVariables.backend}/fast", http_method="GET", proxy=True)
    )
    api.root.add_resource("down").add_method(
        "GET", apigw.HttpIntegration(cdk.Fn.join("", ["http://", dead.value_as_string, "/"]), http_method="GET")
    )
    versioned_uri = cdk.Fn.join(
        "",
        [
            f"arn:{stack.partition}:apigateway:{stack.region}:lambda:path/2015-03-31/functions/arn:",
            f"{stack.partition}:lambda:{stack.region}:{stack.account}:function:${{stageVariables.fn}}/invocations",
        ],
    )
    api.root.add_resource("version").add_method(
        "GET",
        apigw.Integration(type=apigw.IntegrationType.AWS_PROXY, integration_http_method="POST", uri=versioned_uri),
    )
    mock = apigw.MockIntegration(
        request_templates={"application/json": '{"statusCode": 200}'},
        integration_responses=[
            apigw.IntegrationResponse(status_code="200", response_templates={"application/json": '{"ok": true}'})
        ],
    )
    ok = [apigw.MethodResponse(status_code="200")]
    api.root.add_resource("limited").add_method("GET", mock, method_responses=ok)
    keyed = api.root.add_resource("keyed").add_method("GET", mock, api_key_required=True, method_responses=ok)
    metered = api.root.add_resource("metered").add_method("GET", mock, api_key_required=True, method_responses=ok)

    v2_stage = apigw.Stage(
        stack,
        "V2Stage",
        deployment=api.latest_deployment,  # type: ignore[arg-type]
        stage_name="v2",
        variables={"fn": v2.function_name, "backend": backend.value_as_string},
    )
    for fn in (v1, v2):
        fn.add_permission(
            f"Invoke{fn.node.id}",
            principal=cdk.aws_iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=api.arn_for_execute_api(),
        )
    plan = api.add_usage_plan(
        "Plan",
        quota=apigw.QuotaSettings(limit=5, period=apigw.Period.DAY),
        api_stages=[
            apigw.UsagePlanPerApiStage(
                api=api,
                stage=api.deployment_stage,
                throttle=[
                    apigw.ThrottlingPerMethod(
                        method=keyed, throttle=apigw.ThrottleSettings(rate_limit=0.01, burst_limit=1)
                    )
                ],
            ),
            apigw.UsagePlanPerApiStage(api=api, stage=v2_stage),
        ],
    )
    plan.add_api_key(api.add_api_key("Key", api_key_name="gateway-key", value=API_KEY))
    del metered

    http_api = apigwv2.HttpApi(stack, "Edge", create_default_stage=False)
    http_api.add_routes(
        path="/slow",
        methods=[apigwv2.HttpMethod.GET],
        integration=integrations.HttpUrlIntegration(
            "Slow", cdk.Fn.join("", ["http://", backend.value_as_string, "/slow"]), timeout=cdk.Duration.millis(300)
        ),
    )
    http_api.add_routes(
        path="/fast",
        methods=[apigwv2.HttpMethod.GET],
        integration=integrations.HttpUrlIntegration(
            "Fast", cdk.Fn.join("", ["http://", backend.value_as_string, "/fast"])
        ),
    )
    http_api.add_stage(
        "Live", stage_name="live", auto_deploy=True, throttle=apigwv2.ThrottleSettings(rate_limit=0.01, burst_limit=2)
    )

    cdk.CfnOutput(stack, "ApiId", value=api.rest_api_id)
    cdk.CfnOutput(stack, "HttpApiId", value=http_api.api_id)
    cdk.CfnOutput(stack, "ServiceUrl", value=service_url.url)
    cdk.CfnOutput(stack, "PrivateUrl", value=private_url.url)
    return [STACK]


class _Backend(http.server.BaseHTTPRequestHandler):
    """``/fast`` answers at once; ``/slow`` holds the connection until the test module ends."""

    release = threading.Event()
    calls: list[str] = []

    def do_GET(self) -> None:
        type(self).calls.append(self.path)
        if self.path.startswith("/slow"):
            type(self).release.wait(10)
        body = json.dumps({"backend": self.path}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the gateway gave up on a slow call and closed the connection

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    _Backend.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _dead_host() -> str:
    """A 127.0.0.1 port nothing listens on (bound once, then closed)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"127.0.0.1:{port}"


class Deployed:
    def __init__(self, local: LocalCloud, outputs: dict[str, str]) -> None:
        self.local = local
        self.outputs = outputs
        self.v1 = local.api_url(outputs["ApiId"], "v1")
        self.v2 = local.api_url(outputs["ApiId"], "v2")
        self.edge = local.api_url(outputs["HttpApiId"], "live")

    def calls(self, logical_prefix: str) -> int:
        name = physical_id(self.local, STACK, logical_prefix, "AWS::Lambda::Function")
        return len(self.local.invocations(name))


@pytest.fixture(scope="module")
def cloud(backend: str) -> Iterator[Deployed]:
    template = synthesize(_build)[STACK]
    with LocalCloud() as local:
        stack = local.deploy_template(template, STACK, parameters={"BackendHost": backend, "DeadHost": _dead_host()})
        yield Deployed(local, stack.outputs)


def test_http_proxy_forwards_the_greedy_path_query_and_method_to_a_function_url(cloud: Deployed) -> None:
    before = cloud.calls("Service")

    response = requests.post(f"{cloud.v1}/legacy/orders/42?expand=lines", data=b"{}", timeout=5)

    assert response.status_code == 200
    assert response.headers["x-served-by"] == "service"
    assert response.json() == {"path": "/orders/42", "query": "expand=lines", "method": "POST", "iam": None}
    assert cloud.calls("Service") == before + 1


def test_function_url_is_served_with_auth_type_none_and_aws_iam(cloud: Deployed) -> None:
    public = cloud.local.function_url(physical_id(cloud.local, STACK, "Service", "AWS::Lambda::Function"))
    private = cloud.local.function_url(physical_id(cloud.local, STACK, "Private", "AWS::Lambda::Function"))
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/lambda/aws4_request, x"}

    assert requests.get(f"{public}/a/b?x=1", timeout=5).json()["path"] == "/a/b"
    unsigned = requests.get(f"{private}/secret", timeout=5)
    allowed = requests.get(f"{private}/secret", headers=signed, timeout=5)

    assert (unsigned.status_code, unsigned.json()) == (403, {"Message": "Forbidden"})
    assert allowed.status_code == 200
    assert allowed.json()["iam"]["accessKey"] == "AKIDLOCAL"
    assert requests.get(f"{cloud.local.front_door_url}/lambda-url/nosuchurl/", timeout=5).status_code == 404


def test_function_url_is_served_host_style_and_never_taken_for_a_custom_domain(cloud: Deployed) -> None:
    # An HTTP integration naming https://<url-id>.lambda-url.<region>.on.aws/ sends Host <url-id>.lambda-url.localhost
    public = cloud.local.function_url(physical_id(cloud.local, STACK, "Service", "AWS::Lambda::Function"))
    url_id = public.rstrip("/").rsplit("/", 1)[-1]
    port = cloud.local.front_door_url.rsplit(":", 1)[-1]
    headers = {"Host": f"{url_id}.lambda-url.localhost:{port}"}

    served = requests.get(f"{cloud.local.front_door_url}/a/b", headers=headers, timeout=5)
    unknown = requests.get(
        f"{cloud.local.front_door_url}/a", headers={"Host": f"nosuch.lambda-url.localhost:{port}"}, timeout=5
    )

    assert (served.status_code, served.json()["path"]) == (200, "/a/b")
    assert unknown.status_code == 404
    assert unknown.json() == {"Message": "No function URL 'nosuch' is deployed in the local cloud"}


def test_slow_backend_is_504_after_the_integration_timeout_and_others_keep_answering(cloud: Deployed) -> None:
    slow = requests.get(f"{cloud.v1}/slow", timeout=5)
    fast = requests.get(f"{cloud.v1}/fast", timeout=5)

    assert (slow.status_code, slow.json()) == (504, {"message": "Endpoint request timed out"})
    assert "/slow" in _Backend.calls  # the backend was called, and the gateway gave up after 300 ms
    assert slow.elapsed.total_seconds() < 2
    assert (fast.status_code, fast.json()) == (200, {"backend": "/fast"})


def test_unreachable_backend_is_502_with_api_gateways_body(cloud: Deployed) -> None:
    response = requests.get(f"{cloud.v1}/down", timeout=5)

    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})


def test_http_api_answers_a_slow_backend_with_503_service_unavailable(cloud: Deployed) -> None:
    slow = requests.get(f"{cloud.edge}/slow", timeout=5)

    assert (slow.status_code, slow.json()) == (503, {"message": "Service Unavailable"})


def test_two_stages_pick_their_lambda_and_backend_from_stage_variables(cloud: Deployed) -> None:
    first = requests.get(f"{cloud.v1}/version", timeout=5).json()
    second = requests.get(f"{cloud.v2}/version", timeout=5).json()

    assert first["function"] == "v1" and second["function"] == "v2"
    assert first["stage"]["fn"] != second["stage"]["fn"]
    assert requests.get(f"{cloud.v2}/fast", timeout=5).json() == {"backend": "/fast"}


def test_api_key_required_method_is_403_without_a_valid_key(cloud: Deployed) -> None:
    missing = requests.get(f"{cloud.v1}/metered", timeout=5)
    wrong = requests.get(f"{cloud.v1}/metered", headers={"x-api-key": "not-a-key"}, timeout=5)

    assert (missing.status_code, missing.json()) == (403, {"message": "Forbidden"})
    assert wrong.status_code == 403


def test_stage_method_throttle_is_a_token_bucket_on_the_cloud_clock(cloud: Deployed) -> None:
    statuses = [requests.get(f"{cloud.v1}/limited", timeout=5).status_code for _ in range(4)]
    refused = requests.get(f"{cloud.v1}/limited", timeout=5)
    cloud.local.advance(100.0)  # 0.01 requests/s: one token back
    refilled = requests.get(f"{cloud.v1}/limited", timeout=5)

    assert statuses == [200, 200, 429, 429]
    assert refused.json() == {"message": "Too Many Requests"}
    assert refilled.status_code == 200
    # Another method of the stage has its own bucket.
    assert requests.get(f"{cloud.v1}/fast", timeout=5).status_code == 200


def test_usage_plan_method_throttle_and_daily_quota_per_key(cloud: Deployed) -> None:
    key = {"x-api-key": API_KEY}
    cloud.local.advance(86_400)  # a fresh quota day for this test

    keyed = [requests.get(f"{cloud.v1}/keyed", headers=key, timeout=5).status_code for _ in range(2)]
    metered = [requests.get(f"{cloud.v1}/metered", headers=key, timeout=5) for _ in range(5)]
    next_day_before = requests.get(f"{cloud.v1}/metered", headers=key, timeout=5)
    cloud.local.advance(86_400)
    next_day = requests.get(f"{cloud.v1}/metered", headers=key, timeout=5)

    # ThrottlingPerMethod burst 1 on /keyed; the quota (5 a day) counts every request of the key that passed.
    assert keyed == [200, 429]
    assert [r.status_code for r in metered] == [200, 200, 200, 429, 429]
    assert metered[-1].json() == {"message": "Limit Exceeded"}
    assert next_day_before.status_code == 429
    assert next_day.status_code == 200


def test_http_api_stage_throttle(cloud: Deployed) -> None:
    statuses = [requests.get(f"{cloud.edge}/fast", timeout=5).status_code for _ in range(3)]
    refused = requests.get(f"{cloud.edge}/fast", timeout=5)

    assert statuses == [200, 200, 429]
    assert refused.json() == {"message": "Too Many Requests"}


def test_a_deleted_function_url_no_longer_resolves_and_its_routes_answer_502(cloud: Deployed) -> None:
    # Last in the module: it removes the service's URL.
    name = physical_id(cloud.local, STACK, "Service", "AWS::Lambda::Function")
    before = cloud.calls("Service")
    cloud.local.client("lambda").delete_function_url_config(FunctionName=name)

    response = requests.get(f"{cloud.v1}/legacy/orders/1", timeout=5)

    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})
    assert cloud.calls("Service") == before
    assert requests.get(f"{cloud.v1}/fast", timeout=5).status_code == 200
