"""EventBridge Scheduler schedules, and HTTP / REST APIs with AWS service integrations.

The schedule targets are the ``aws_scheduler_targets`` ones (Lambda with an input, SQS); the
HTTP API sends its requests straight to SQS (``HttpSqsIntegration``); the REST API writes to
DynamoDB and SQS through ``AwsIntegration`` mapping templates, the way the API Gateway docs'
service-proxy examples do.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import bodies, function, received, stack, synthesize

STACK = "CompatSchedulerAndApis"


def _app(app: Any) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigateway
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_apigatewayv2_integrations as integrations
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_scheduler as scheduler
    from aws_cdk import aws_scheduler_targets as scheduler_targets
    from aws_cdk import aws_sqs as sqs

    s = stack(app, STACK)
    job = function(s, "NightlyJob")
    jobs = sqs.Queue(s, "Jobs")
    nightly = scheduler.Schedule(
        s,
        "Nightly",
        schedule=scheduler.ScheduleExpression.cron(hour="2", minute="0"),
        target=scheduler_targets.LambdaInvoke(
            job, input=scheduler.ScheduleTargetInput.from_object({"job": "nightly-report"})
        ),
    )
    hourly = scheduler.Schedule(
        s,
        "Hourly",
        schedule=scheduler.ScheduleExpression.rate(cdk.Duration.hours(1)),
        target=scheduler_targets.SqsSendMessage(jobs, input=scheduler.ScheduleTargetInput.from_text("tick")),
    )

    inbox = sqs.Queue(s, "HttpInbox")
    http_api = apigwv2.HttpApi(s, "HttpApi")
    http_api.add_routes(
        path="/orders",
        methods=[apigwv2.HttpMethod.POST],
        integration=integrations.HttpSqsIntegration("ToQueue", queue=inbox),
    )

    table = dynamodb.Table(s, "Orders", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING))
    rest_queue = sqs.Queue(s, "RestInbox")
    role = iam.Role(s, "ApiRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
    table.grant_write_data(role)
    rest_queue.grant_send_messages(role)
    rest_api = apigateway.RestApi(s, "RestApi")
    ok = [apigateway.IntegrationResponse(status_code="200")]
    rest_api.root.add_resource("orders").add_method(
        "POST",
        apigateway.AwsIntegration(
            service="dynamodb",
            action="PutItem",
            options=apigateway.IntegrationOptions(
                credentials_role=role,
                request_templates={
                    "application/json": json.dumps(
                        {
                            "TableName": table.table_name,
                            "Item": {"id": {"S": "$input.path('$.id')"}, "total": {"N": "$input.path('$.total')"}},
                        }
                    )
                },
                integration_responses=ok,
            ),
        ),
        method_responses=[apigateway.MethodResponse(status_code="200")],
    )
    rest_api.root.add_resource("messages").add_method(
        "POST",
        apigateway.AwsIntegration(
            service="sqs",
            path=f"{cdk.Aws.ACCOUNT_ID}/{rest_queue.queue_name}",
            integration_http_method="POST",
            options=apigateway.IntegrationOptions(
                credentials_role=role,
                request_parameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
                request_templates={"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"},
                integration_responses=ok,
            ),
        ),
        method_responses=[apigateway.MethodResponse(status_code="200")],
    )
    for name, value in (
        ("JobFn", job.function_name),
        ("JobsUrl", jobs.queue_url),
        ("NightlyName", nightly.schedule_name),
        ("HourlyName", hourly.schedule_name),
        ("HttpInboxUrl", inbox.queue_url),
        ("HttpApiId", http_api.http_api_id),
        ("TableName", table.table_name),
        ("RestInboxUrl", rest_queue.queue_url),
        ("RestApiId", rest_api.rest_api_id),
    ):
        cdk.CfnOutput(s, name, value=value)


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud) -> Iterator[tuple[LocalCloud, dict[str, str]]]:
    templates = synthesize(_app)
    yield cloud, cloud.deploy_template(templates[STACK], STACK).outputs


def _post(url: str, body: Any) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_schedules_run_their_targets_with_their_input(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, out = deployed
    # WHEN both schedules come due
    cloud.fire_schedule(out["NightlyName"])
    cloud.fire_schedule(out["HourlyName"])
    cloud.drain()  # the Lambda target is invoked asynchronously, as Scheduler invokes it
    # THEN the function got the schedule's input and the queue the text
    assert received(cloud, out["JobFn"]) == [{"job": "nightly-report"}]
    assert bodies(cloud, out["JobsUrl"]) == ["tick"]


def test_http_api_sends_the_request_to_sqs(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, out = deployed
    # WHEN an order is posted to the HTTP API (the integration's default mapping sends the
    # request body's MessageBody field: {"MessageBody": "$request.body.MessageBody"})
    status = _post(cloud.api_url(out["HttpApiId"], "$default") + "/orders", {"MessageBody": '{"id": "h-1"}'})
    # THEN it is a message in the queue
    assert status == 200
    assert bodies(cloud, out["HttpInboxUrl"]) == [{"id": "h-1"}]


def test_rest_api_writes_to_dynamodb_and_sqs_through_mapping_templates(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, out = deployed
    base = cloud.api_url(out["RestApiId"], "prod")
    # WHEN an order and a message are posted to the REST API
    assert _post(base + "/orders", {"id": "r-1", "total": 42}) == 200
    assert _post(base + "/messages", {"note": "a & b"}) == 200
    # THEN the table has the item and the queue the message, exactly as sent
    item = cloud.client("dynamodb").get_item(TableName=out["TableName"], Key={"id": {"S": "r-1"}})["Item"]
    assert item == {"id": {"S": "r-1"}, "total": {"N": "42"}}
    assert bodies(cloud, out["RestInboxUrl"]) == [{"note": "a & b"}]
