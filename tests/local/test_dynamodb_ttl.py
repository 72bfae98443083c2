"""DynamoDB TTL on the local cloud's clock: expired items are deleted by the service, seen on the stream."""

from __future__ import annotations

from typing import Any

import pytest

from patterns.local import LocalCloud

RECORDER = """
def handler(event, context):
    return len(event["Records"])
"""


def _template() -> dict[str, Any]:
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                },
            },
            "Recorder": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.13",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": RECORDER},
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Recorder"},
                    "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
                    "StartingPosition": "TRIM_HORIZON",
                    "BatchSize": 100,
                },
            },
        },
        "Outputs": {"Table": {"Value": {"Ref": "Table"}}},
    }


@pytest.fixture
def table(cloud: LocalCloud) -> str:
    return str(cloud.deploy_template(_template(), "Ttl").outputs["Table"])


def _keys(cloud: LocalCloud, table: str) -> list[str]:
    items = cloud.client("dynamodb").scan(TableName=table)["Items"]
    return sorted(item["pk"]["S"] for item in items)


def _records(cloud: LocalCloud) -> list[dict[str, Any]]:
    return [r for call in cloud.invocations("Recorder") for r in call.event["Records"]]


def test_items_expire_when_the_clock_passes_their_ttl_as_service_deletes_on_the_stream(
    cloud: LocalCloud, table: str
) -> None:
    # GIVEN items expiring in 1 h and 2 h, one without TTL, one with a non-number TTL, one 6 years overdue
    now = int(cloud.core.engine.clock())
    ddb = cloud.client("dynamodb")
    items = {
        "soon": {"N": str(now + 3600)},
        "later": {"N": str(now + 7200)},
        "text": {"S": str(now - 10)},
        "ancient": {"N": str(now - 6 * 365 * 24 * 3600)},
    }
    for key, expires in items.items():
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "expires": expires})
    ddb.put_item(TableName=table, Item={"pk": {"S": "forever"}})
    cloud.drain(timeout=20)
    # THEN draining alone expires nothing (TTL is not work drain() waits for)
    assert _keys(cloud, table) == ["ancient", "forever", "later", "soon", "text"]

    # WHEN the clock moves 1 h on
    cloud.advance(3601)
    cloud.drain(timeout=20)

    # THEN only the item due by then is gone; non-numbers and items overdue by over five years stay
    assert _keys(cloud, table) == ["ancient", "forever", "later", "text"]
    removes = [r for r in _records(cloud) if r["eventName"] == "REMOVE"]
    assert len(removes) == 1
    assert removes[0]["dynamodb"]["Keys"] == {"pk": {"S": "soon"}}
    assert removes[0]["dynamodb"]["OldImage"]["expires"] == items["soon"]
    assert removes[0]["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

    # WHEN another hour passes THEN the second item expires too
    cloud.advance(3600)
    cloud.drain(timeout=20)
    assert _keys(cloud, table) == ["ancient", "forever", "text"]


def test_a_users_delete_carries_no_service_identity(cloud: LocalCloud, table: str) -> None:
    # GIVEN an item deleted by a caller before its TTL
    ddb = cloud.client("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "expires": {"N": str(int(cloud.core.engine.clock()) + 60)}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})

    # WHEN the TTL would have passed
    cloud.advance(120)
    cloud.drain(timeout=20)

    # THEN the stream has one REMOVE, without userIdentity, and the TTL process deleted nothing
    removes = [r for r in _records(cloud) if r["eventName"] == "REMOVE"]
    assert len(removes) == 1 and "userIdentity" not in removes[0]
    assert cloud.core.engine.ttl.expired == 0


def test_the_clock_only_moves_forward(cloud: LocalCloud) -> None:
    before = cloud.core.engine.clock()
    cloud.advance(86400)
    assert cloud.core.engine.clock() - before >= 86400
    with pytest.raises(ValueError, match="only moves forward"):
        cloud.advance(-1)
