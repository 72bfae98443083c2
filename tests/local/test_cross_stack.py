"""Cross-stack references: Outputs with Export, Fn::ImportValue, and the guards CloudFormation keeps.

A producer stack (a table and a function) exports the table's name; a consumer stack's function
imports it into its environment. Proves: the import resolves; updating the producer leaves every
consumer resource as it was (same physical ids, no stack events, the same function version and
code, the same warm execution environment); an update that drops or changes an export in use
fails before touching anything; deleting the producer while it is imported fails; an export added
by an update is importable at once; once the consumer is gone the producer deletes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import DeployError, LocalCloud

ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    },
}
CODE = (
    "import os\n\nCALLS = []\n\n\ndef handler(event, context):\n"
    "    CALLS.append(1)\n"
    "    return {'table': os.environ.get('TABLE'), 'pid': os.getpid(), 'calls': len(CALLS)}\n"
)


def _function(environment: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": CODE},
            "Environment": {"Variables": environment},
        },
    }


def producer(prefix: str, *, export: bool = True, value: Any = None, extra: bool = False) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Role": ROLE,
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            },
        },
        "Writer": _function({"TABLE": {"Ref": "Table"}}),
    }
    outputs: dict[str, Any] = {}
    if export:
        outputs["TableName"] = {"Value": value or {"Ref": "Table"}, "Export": {"Name": f"{prefix}:TableName"}}
    if extra:
        resources["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
        outputs["QueueUrl"] = {"Value": {"Ref": "Queue"}, "Export": {"Name": f"{prefix}:QueueUrl"}}
    return {"Resources": resources, "Outputs": outputs}


def consumer(prefix: str, name: str = "TableName") -> dict[str, Any]:
    return {
        "Resources": {"Role": ROLE, "Reader": _function({"TABLE": {"Fn::ImportValue": f"{prefix}:{name}"}})},
        "Outputs": {"Imported": {"Value": {"Fn::ImportValue": f"{prefix}:{name}"}}},
    }


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(front_door=False) as local:
        yield local


def _pair(cloud: LocalCloud, prefix: str) -> tuple[Any, Any]:
    return (
        cloud.deploy_template(producer(prefix), f"{prefix}Producer"),
        cloud.deploy_template(consumer(prefix), f"{prefix}Consumer"),
    )


def _snapshot(cloud: LocalCloud, stack: str) -> dict[str, Any]:
    """What must not change when another stack updates: ids, events, the function's code and version."""
    cfn, lambda_ = cloud.client("cloudformation"), cloud.client("lambda")
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    ids = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    config = lambda_.get_function_configuration(FunctionName=ids["Reader"])
    return {
        "ids": ids,
        "events": len(cfn.describe_stack_events(StackName=stack)["StackEvents"]),
        "code": (config["CodeSha256"], config["Version"], config["LastModified"]),
        "environment": config["Environment"]["Variables"],
    }


def test_an_import_resolves_to_the_exported_value(cloud: LocalCloud) -> None:
    # GIVEN a producer exporting its table's name and a consumer importing it
    made, used = _pair(cloud, "Resolve")
    table = made.physical_id("Table")
    # THEN the consumer's output and its function's environment hold the table name
    assert used.outputs["Imported"] == table
    assert cloud.invoke(used.physical_id("Reader"), {})["table"] == table
    exports = {e["Name"]: e["Value"] for e in cloud.client("cloudformation").list_exports()["Exports"]}
    assert exports["Resolve:TableName"] == table


def test_updating_the_producer_leaves_the_consumer_untouched(cloud: LocalCloud) -> None:
    # GIVEN both stacks deployed and the consumer's function warm
    made, used = _pair(cloud, "Untouched")
    reader = used.physical_id("Reader")
    first = cloud.invoke(reader, {})
    before = _snapshot(cloud, "UntouchedConsumer")
    table = made.physical_id("Table")
    # WHEN the producer is updated (a new queue and a new export)
    updated = cloud.deploy_template(producer("Untouched", extra=True), "UntouchedProducer")
    # THEN the producer changed, its table stayed, and not one consumer resource, event, code or version moved
    assert updated.status == "UPDATE_COMPLETE" and "Queue" in updated.resources
    assert updated.physical_id("Table") == table
    assert _snapshot(cloud, "UntouchedConsumer") == before
    # AND the consumer's warm execution environment serves the next call (same process, module state kept)
    again = cloud.invoke(reader, {})
    assert (again["pid"], again["calls"]) == (first["pid"], first["calls"] + 1)


def test_an_export_added_by_an_update_is_importable_at_once(cloud: LocalCloud) -> None:
    # GIVEN a producer updated to export a queue URL as well
    cloud.deploy_template(producer("Added"), "AddedProducer")
    updated = cloud.deploy_template(producer("Added", extra=True), "AddedProducer")
    # WHEN a new stack imports it
    used = cloud.deploy_template(consumer("Added", "QueueUrl"), "AddedConsumer")
    # THEN it gets the queue's URL
    assert used.outputs["Imported"] == updated.physical_id("Queue")


def test_fails_if_an_update_drops_an_export_in_use(cloud: LocalCloud) -> None:
    # GIVEN an imported export
    made, _ = _pair(cloud, "Drop")
    table = made.physical_id("Table")
    # WHEN the producer's update drops it (and would add a queue)
    with pytest.raises(DeployError, match="Export Drop:TableName cannot be deleted as it is in use by DropConsumer"):
        cloud.deploy_template(producer("Drop", export=False, extra=True), "DropProducer")
    # THEN nothing of the producer changed: no queue was made, the table and the export are there
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="DropProducer")["StackResources"]
    assert {r["LogicalResourceId"] for r in resources} == {"Role", "Table", "Writer"}
    assert cloud.client("dynamodb").describe_table(TableName=table)["Table"]["TableName"] == table
    exports = {e["Name"] for e in cloud.client("cloudformation").list_exports()["Exports"]}
    assert "Drop:TableName" in exports


def test_fails_if_an_update_changes_an_export_in_use(cloud: LocalCloud) -> None:
    # GIVEN an imported export
    _pair(cloud, "Change")
    # WHEN the producer's update exports another value under the same name
    with pytest.raises(DeployError, match="Cannot update export Change:TableName as it is in use by ChangeConsumer"):
        cloud.deploy_template(producer("Change", value={"Fn::GetAtt": ["Table", "Arn"]}), "ChangeProducer")


def test_fails_if_a_stack_whose_export_is_in_use_is_deleted_and_deletes_once_it_is_not(cloud: LocalCloud) -> None:
    # GIVEN an imported export
    made, _ = _pair(cloud, "Delete")
    table = made.physical_id("Table")
    # WHEN the producer is deleted THEN CloudFormation refuses and keeps everything
    with pytest.raises(
        DeployError, match="Export Delete:TableName cannot be deleted as it is in use by DeleteConsumer"
    ):
        cloud.destroy("DeleteProducer")
    status = cloud.client("cloudformation").describe_stacks(StackName="DeleteProducer")["Stacks"][0]["StackStatus"]
    assert status == "DELETE_FAILED"
    assert cloud.client("dynamodb").describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    # WHEN the consumer goes first THEN the producer deletes, and its export with it
    cloud.destroy("DeleteConsumer")
    cloud.destroy("DeleteProducer")
    exports = {e["Name"] for e in cloud.client("cloudformation").list_exports()["Exports"]}
    assert "Delete:TableName" not in exports
    assert json.dumps(sorted(exports)).count("Delete:") == 0


def weak_consumer(producer_stack: str, output: str = "TableName") -> dict[str, Any]:
    """What CDK emits with ``@aws-cdk/core:defaultCrossStackReferences: weak`` (this project's cdk.json)."""
    spec = {"StackName": producer_stack, "Region": {"Ref": "AWS::Region"}, "OutputName": output}
    value = {"Fn::GetStackOutput": spec}
    return {
        "Resources": {"Role": ROLE, "Reader": _function({"TABLE": value})},
        "Outputs": {"Imported": {"Value": value}},
    }


def test_a_weak_reference_reads_the_output_and_does_not_pin_the_producer(cloud: LocalCloud) -> None:
    # GIVEN a producer whose output has no export, and a consumer reading it with Fn::GetStackOutput
    template = producer("Weak", export=False)
    template["Outputs"]["TableName"] = {"Value": {"Ref": "Table"}}
    made = cloud.deploy_template(template, "WeakProducer")
    used = cloud.deploy_template(weak_consumer("WeakProducer"), "WeakConsumer")
    # THEN the consumer got the value at deploy time
    assert used.outputs["Imported"] == made.physical_id("Table")
    assert cloud.invoke(used.physical_id("Reader"), {})["table"] == made.physical_id("Table")
    # AND the producer deletes although the consumer still refers to it (a weak reference, as AWS documents)
    cloud.destroy("WeakProducer")
    assert "WeakProducer" not in {s.name for s in cloud.stacks()}
    assert cloud.stack("WeakConsumer").outputs["Imported"] == made.physical_id("Table")


def test_fails_if_a_weak_reference_names_an_output_that_does_not_exist(cloud: LocalCloud) -> None:
    cloud.deploy_template(producer("Missing", export=False), "MissingProducer")
    with pytest.raises(DeployError, match="Fn::GetStackOutput: stack MissingProducer has no output Nope"):
        cloud.deploy_template(weak_consumer("MissingProducer", "Nope"), "MissingConsumer")
    with pytest.raises(DeployError, match="Fn::GetStackOutput: no stack NoSuchStack"):
        cloud.deploy_template(weak_consumer("NoSuchStack"), "MissingConsumer2")
