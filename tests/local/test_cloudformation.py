"""CloudFormation in the local cloud: strict mode, custom resources, updates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patterns.local import DeployError, LocalCloud

from .conftest import inline_function, messages, python_function, synth, write_handler

ECHO_ENV = """
import os


def handler(event, context):
    return os.environ.get("VERSION")
"""

CFN_RESPONSE = """
import cfnresponse


def handler(event, context):
    props = event["ResourceProperties"]
    cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Doubled": int(props["Value"]) * 2}, "doubler-1")
"""


def _stack(version: str, with_second_queue: bool) -> Any:
    """The same app twice, as a developer would change it between two deploys."""

    def build(app: Any, code: str) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_sqs as sqs
        from aws_cdk import custom_resources as cr

        stack = cdk.Stack(app, "CfnStack")
        queue = sqs.Queue(stack, "Queue")
        cdk.CfnOutput(stack, "QueueUrl", value=queue.queue_url)
        if with_second_queue:
            sqs.Queue(stack, "AddedQueue")
        python_function(stack, "Echo", code, environment={"VERSION": version})

        on_event = inline_function(
            stack,
            "OnEvent",
            "def handler(event, context):\n"
            "    name = event['ResourceProperties']['Name']\n"
            "    return {'PhysicalResourceId': 'thing-' + name, 'Data': {'Greeting': 'hi ' + name}}\n",
        )
        provider = cr.Provider(stack, "Provider", on_event_handler=on_event)
        thing = cdk.CustomResource(stack, "Thing", service_token=provider.service_token, properties={"Name": "ada"})
        cdk.CfnOutput(stack, "Greeting", value=thing.get_att_string("Greeting"))

        doubler = inline_function(stack, "Doubler", CFN_RESPONSE)
        doubled = cdk.CustomResource(stack, "Doubled", service_token=doubler.function_arn, properties={"Value": 21})
        cdk.CfnOutput(stack, "DoubledValue", value=doubled.get_att_string("Doubled"))

        cr.AwsCustomResource(
            stack,
            "PutParameter",
            on_create=cr.AwsSdkCall(
                service="SSM",
                action="putParameter",
                parameters={"Name": "/app/version", "Value": version, "Type": "String"},
                physical_resource_id=cr.PhysicalResourceId.of("app-version"),
            ),
            on_update=cr.AwsSdkCall(
                service="@aws-sdk/client-ssm",
                action="PutParameterCommand",
                parameters={"Name": "/app/version", "Value": version, "Type": "String", "Overwrite": True},
                physical_resource_id=cr.PhysicalResourceId.of("app-version"),
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
        )

    return build


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cfn")
    code = write_handler(root / "echo", {"app.py": ECHO_ENV})
    first = synth(root / "v1", lambda app: _stack("1", False)(app, code))
    second = synth(root / "v2", lambda app: _stack("2", True)(app, code))
    return first, second


def test_fails_if_a_resource_type_is_not_supported(cloud: LocalCloud) -> None:
    # GIVEN a template with a type the local cloud cannot create (next to a supported one)
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Widget": {"Type": "AWS::Foo::Widget", "Properties": {"Size": 3}},
        }
    }

    # WHEN it is deployed, THEN the deployment fails naming the logical id and the type
    with pytest.raises(DeployError, match=r"Widget \(AWS::Foo::Widget\)"):
        cloud.deploy_template(template, "Strict")
    # AND through the CloudFormation API the stack is CREATE_FAILED with that reason, nothing created
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="StrictApi", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="StrictApi")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert "Widget (AWS::Foo::Widget)" in stack["StackStatusReason"]
    failed = [
        e for e in cfn.describe_stack_events(StackName="StrictApi")["StackEvents"] if e["LogicalResourceId"] == "Widget"
    ]
    assert failed[0]["ResourceStatus"] == "CREATE_FAILED" and failed[0]["ResourceType"] == "AWS::Foo::Widget"
    assert cloud.client("sqs").list_queues().get("QueueUrls", []) == []


def test_fails_if_a_custom_resource_needs_a_runtime_the_cloud_cannot_run(cloud: LocalCloud) -> None:
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Provider": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "nodejs22.x",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "exports.handler = async () => ({})"},
                },
            },
            "Thing": {"Type": "Custom::Thing", "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}}},
        }
    }
    with pytest.raises(DeployError, match=r"Thing \(Custom::Thing\).*nodejs22.x"):
        cloud.deploy_template(template, "NodeCustom")


def test_custom_resources_run_natively_or_in_process(cloud: LocalCloud, assemblies: tuple[Path, Path]) -> None:
    # GIVEN a stack with a Provider-framework resource, a cfnresponse resource and an AwsCustomResource
    stack = cloud.deploy(assemblies[0], "CfnStack")

    # THEN each ran: the Python providers in-process, the SDK call against the local SSM
    assert stack.outputs["Greeting"] == "hi ada"
    assert stack.physical_id("Thing") == "thing-ada"
    assert stack.outputs["DoubledValue"] == "42"
    assert stack.physical_id("Doubled") == "doubler-1"
    assert cloud.client("ssm").get_parameter(Name="/app/version")["Parameter"]["Value"] == "1"


def test_second_deploy_updates_in_place(cloud: LocalCloud, assemblies: tuple[Path, Path]) -> None:
    # GIVEN the first version deployed and a message waiting in its queue
    first = cloud.deploy(assemblies[0], "CfnStack")
    cloud.client("sqs").send_message(QueueUrl=first.outputs["QueueUrl"], MessageBody="kept")
    assert cloud.invoke("Echo", {}) == "1"

    # WHEN the changed app is deployed over it
    second = cloud.deploy(assemblies[1], "CfnStack")

    # THEN the function runs with its new environment, the new queue exists, the old queue kept its data
    assert second.status == "UPDATE_COMPLETE"
    assert cloud.invoke("Echo", {}) == "2"
    assert second.resource_by_path("AddedQueue").physical_id.startswith("https://sqs.")
    assert second.outputs["QueueUrl"] == first.outputs["QueueUrl"]
    assert [m["Body"] for m in messages(cloud, second.outputs["QueueUrl"])] == ["kept"]
    assert cloud.client("ssm").get_parameter(Name="/app/version")["Parameter"]["Value"] == "2"


def test_update_with_use_previous_value_for_a_defaulted_parameter(
    cloud: LocalCloud, assemblies: tuple[Path, Path]
) -> None:
    # GIVEN a stack whose BootstrapVersion parameter only ever had its default (as cdk deploy leaves it)
    cloud.deploy(assemblies[0], "CfnStack")
    template = json.loads((assemblies[1] / "CfnStack.template.json").read_text())
    cloud.deployer.upload_assets(assemblies[1] / "CfnStack.assets.json")

    # WHEN it is updated through the API with UsePreviousValue, as the CDK CLI does
    cfn = cloud.client("cloudformation")
    cfn.update_stack(
        StackName="CfnStack",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}],
        Capabilities=["CAPABILITY_IAM"],
    )

    # THEN the update completes (moto alone raises KeyError here)
    assert cfn.describe_stacks(StackName="CfnStack")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
