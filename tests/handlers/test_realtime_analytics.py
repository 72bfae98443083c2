"""Rung 4 for CATALOG 23 RealtimeAnalytics: the aggregator against moto DynamoDB and SNS.

Batches fold into the window state it returns; the final invoke writes one item per key and alerts
once per key at or over the threshold; a retried final invoke changes nothing and alerts nothing
again; a window Lambda ended early adds its next segment (and alerts when that one crosses); a bad
record (not JSON, no key, no numeric value) fails the invocation and returns no state.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import load_handler

EVENT = json.loads((Path(__file__).parent / "events" / "realtime_analytics" / "window_event.json").read_text())
TABLE = "analytics-results"
WINDOW = EVENT["window"]
FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898


@dataclass
class Context:
    function_name: str = "RealtimeAnalyticsDemo-Aggregator"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "0e1d2c3b-0000-4000-8000-000000000023"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


@dataclass
class Env:
    module: ModuleType
    ddb: Any
    sqs: Any
    alerts_url: str
    seq: int = 0

    def records(self, *datas: bytes) -> list[dict[str, Any]]:
        out = []
        for data in datas:
            self.seq += 1
            record = copy.deepcopy(EVENT["Records"][0])
            record["kinesis"]["data"] = base64.b64encode(data).decode()
            record["kinesis"]["sequenceNumber"] = str(FIRST_SEQUENCE + self.seq)
            out.append(record)
        return out

    def batch(self, state: dict[str, Any], *datas: bytes) -> dict[str, Any]:
        event = {**copy.deepcopy(EVENT), "Records": self.records(*datas), "state": state}
        return self.module.handler(event, Context())

    def final(self, state: dict[str, Any], *, early: bool = False) -> dict[str, Any]:
        event = {**copy.deepcopy(EVENT), "Records": [], "state": state, "isFinalInvokeForWindow": True,
                 "isWindowTerminatedEarly": early}
        return self.module.handler(event, Context())

    def items(self) -> dict[str, dict[str, Any]]:
        return {i["key"]["S"]: i for i in self.ddb.scan(TableName=TABLE)["Items"]}

    def alerts(self) -> list[dict[str, Any]]:
        taken = []
        while got := self.sqs.receive_message(QueueUrl=self.alerts_url, MaxNumberOfMessages=10).get("Messages"):
            for message in got:
                taken.append(json.loads(json.loads(message["Body"])["Message"]))
                self.sqs.delete_message(QueueUrl=self.alerts_url, ReceiptHandle=message["ReceiptHandle"])
        return taken


def reading(key: Any, value: Any) -> bytes:
    return json.dumps({"key": key, "value": value}).encode()


@pytest.fixture(scope="module")
def cloud() -> Iterator[Env]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="analytics-alerts")["TopicArn"]
        url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        module = load_handler("realtime_analytics", "aggregate", env={
            "RESULTS_TABLE_NAME": TABLE, "ALERT_TOPIC_ARN": topic, "ALERT_THRESHOLD": "100",
            "KEY_FIELD": "key", "VALUE_FIELD": "value", "POWERTOOLS_SERVICE_NAME": "realtime-analytics",
        })
        yield Env(module, ddb, sqs, url)


@pytest.fixture
def env(cloud: Env) -> Env:
    if TABLE in cloud.ddb.list_tables()["TableNames"]:
        cloud.ddb.delete_table(TableName=TABLE)
    cloud.ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "window_start", "KeyType": "HASH"}, {"AttributeName": "key", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "window_start", "AttributeType": "S"},
                              {"AttributeName": "key", "AttributeType": "S"}],
    )
    cloud.alerts()
    return cloud


def test_batches_fold_into_the_state_they_return_and_write_nothing(env: Env) -> None:
    first = env.batch({}, reading("a", 40), reading("b", 1.5), reading(7, 2))
    assert first["batchItemFailures"] == []
    assert first["state"]["totals"] == {"a": [1, "40"], "b": [1, "1.5"], "7": [1, "2"]}
    segment = first["state"]["segment"]
    second = env.batch(first["state"], reading("a", 70), reading("b", 0.25))
    assert second["state"] == {"segment": segment, "totals": {"a": [2, "110"], "b": [2, "1.75"], "7": [1, "2"]}}
    assert env.items() == {} and env.alerts() == []


def test_the_final_invoke_writes_each_key_and_alerts_once_for_keys_at_or_over_the_threshold(env: Env) -> None:
    state = env.batch({}, reading("hot", 60), reading("hot", 41), reading("edge", 100), reading("cold", 3))["state"]
    assert env.final(state) == {"state": {}, "batchItemFailures": []}
    items = env.items()
    assert {k: (i["record_count"]["N"], i["total"]["N"]) for k, i in items.items()} == {
        "hot": ("2", "101"), "edge": ("1", "100"), "cold": ("1", "3"),
    }
    assert items["hot"]["window_end"]["S"] == WINDOW["end"]
    assert {k for k, i in items.items() if "alerted_at" in i} == {"hot", "edge"}
    alerts = sorted(env.alerts(), key=lambda a: a["key"])
    assert [(a["key"], a["total"], a["count"]) for a in alerts] == [("edge", "100", 1), ("hot", "101", 2)]
    assert alerts[0]["window"] == WINDOW and alerts[0]["threshold"] == "100"


def test_a_retried_final_invoke_changes_nothing_and_alerts_nothing_again(env: Env) -> None:
    state = env.batch({}, reading("hot", 150), reading("cold", 1))["state"]
    env.final(state)
    assert len(env.alerts()) == 1
    env.final(state)
    items = env.items()
    assert (items["hot"]["record_count"]["N"], items["hot"]["total"]["N"]) == ("1", "150")
    assert env.alerts() == []


def test_a_window_ended_early_adds_its_next_segment_and_alerts_when_that_crosses(env: Env) -> None:
    first = env.batch({}, reading("k", 60))["state"]
    env.final(first, early=True)
    assert env.alerts() == []
    second = env.batch({}, reading("k", 50))["state"]  # fresh state, same window
    assert second["segment"] != first["segment"]
    env.final(second)
    item = env.items()["k"]
    assert (item["record_count"]["N"], item["total"]["N"]) == ("2", "110")
    assert [a["total"] for a in env.alerts()] == ["110"]


def test_a_final_invoke_of_an_empty_window_writes_nothing(env: Env) -> None:
    assert env.final({}) == {"state": {}, "batchItemFailures": []}
    assert env.items() == {}


@pytest.mark.parametrize(
    "bad",
    [b"{not json", b"\xff\xfe", b"[1]", reading("", 1), reading(None, 1), reading(True, 1), reading("k", "12"),
     reading("k", None), reading("k", False)],
    ids=["not-json", "not-utf8", "array", "empty-key", "no-key", "bool-key", "text-value", "no-value", "bool-value"],
)
def test_a_bad_record_fails_the_invocation(env: Env, bad: bytes) -> None:
    with pytest.raises(ValueError, match="record 4959"):
        env.batch({}, reading("a", 1), bad)
    assert env.items() == {}
