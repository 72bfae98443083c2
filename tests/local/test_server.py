"""The local cloud as a server: the real CDK CLI bootstraps and deploys twice (the update path)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloudServer

from .conftest import inline_function, synth

REPO = Path(__file__).resolve().parents[2]

WRITER = """
import os

import boto3


def handler(event, context):
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE"], Item={"pk": {"S": event["id"]}, "version": {"S": os.environ["VERSION"]}}
    )
    return os.environ["VERSION"]
"""

CONSUMER = """
import json
import os

import boto3


def handler(event, context):
    for record in event["Records"]:
        item = {"pk": {"S": json.loads(record["body"])["id"]}, "version": {"S": "queue"}}
        boto3.client("dynamodb").put_item(TableName=os.environ["TABLE"], Item=item)
"""


def _cdk() -> str:
    local = REPO / "node_modules" / ".bin" / "cdk"
    found = str(local) if local.exists() else shutil.which("cdk")
    assert found, "the CDK CLI is missing: run `npm install` (package.json pins aws-cdk 2.1148.x)"
    return found


def _app(version: str) -> Any:
    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_dynamodb as ddb
        from aws_cdk import aws_lambda_event_sources as sources
        from aws_cdk import aws_sqs as sqs

        stack = cdk.Stack(app, "ServerStack")
        table = ddb.Table(stack, "Table", partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING))
        writer = inline_function(stack, "Writer", WRITER, environment={"TABLE": table.table_name, "VERSION": version})
        consumer = inline_function(stack, "Consumer", CONSUMER, environment={"TABLE": table.table_name})
        queue = sqs.Queue(stack, "Queue")
        consumer.add_event_source(sources.SqsEventSource(queue))
        table.grant_write_data(writer)
        table.grant_write_data(consumer)
        for name, value in {
            "Writer": writer.function_name,
            "Table": table.table_name,
            "Queue": queue.queue_url,
        }.items():
            cdk.CfnOutput(stack, f"{name}Id", value=value)

    return build


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("server")
    return synth(root / "v1", _app("1")), synth(root / "v2", _app("2"))


def test_cdk_cli_bootstraps_and_deploys_twice(apps: tuple[Path, Path], tmp_path: Path) -> None:
    with LocalCloudServer() as server:
        env = {**os.environ, **server.env}

        def cdk(*args: str) -> None:
            done = subprocess.run([_cdk(), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-3000:]

        # GIVEN the local cloud bootstrapped by `cdk bootstrap` (S3, ECR, IAM, KMS, SSM, bucket policy)
        cdk("bootstrap", "aws://123456789012/us-east-1")
        assert server.stack("CDKToolkit").outputs["BootstrapVersion"]

        for version, app in zip(("1", "2"), apps, strict=True):
            # WHEN the app is deployed with the CLI (the second time it is an update)
            cdk("deploy", "--all", "--app", str(app), "--method=direct", "--require-approval=never")
            outputs = server.stack("ServerStack").outputs

            # THEN its function runs with the deployed environment and reaches the same server
            response = server.client("lambda").invoke(
                FunctionName=outputs["WriterId"], Payload=json.dumps({"id": version})
            )
            assert json.loads(response["Payload"].read()) == version
            # AND the SQS poller (in the background) runs the consumer against the same table
            server.client("sqs").send_message(
                QueueUrl=outputs["QueueId"], MessageBody=json.dumps({"id": f"q{version}"})
            )
            server.drain(timeout=20)

        items = server.client("dynamodb").scan(TableName=outputs["TableId"])["Items"]
        assert sorted((i["pk"]["S"], i["version"]["S"]) for i in items) == [
            ("1", "1"),
            ("2", "2"),
            ("q1", "queue"),
            ("q2", "queue"),
        ]
        assert server.errors == []
