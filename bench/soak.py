"""A soak of a running local cloud server through its API front door: throughput, latency, memory.

The app is a small web service with queue load levelling (what the issue's 15,000-request soak
drove): ``POST /orders`` runs a function that writes the order and a counter in one DynamoDB
transaction and queues a message; a second function consumes the queue into the table. Clients
are threads with one keep-alive connection each; every request counts, an error fails the soak.

``python -m bench.soak --requests 20000`` is the long soak; tests/local/test_soak.py runs a short one.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads

import argparse
import gc
import http.client
import itertools
import json
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

WRITER = """
import json
import os
import uuid

import boto3

ddb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def handler(event, context):
    order = json.loads(event.get("body") or "{}")
    order_id = str(uuid.uuid4())
    item = {"pk": {"S": order_id}, "qty": {"N": str(order["qty"])}}
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": os.environ["TABLE"], "Item": item}},
            {
                "Update": {
                    "TableName": os.environ["TABLE"],
                    "Key": {"pk": {"S": "counter"}},
                    "UpdateExpression": "ADD orders :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps({"id": order_id}))
    return {"statusCode": 201, "body": json.dumps({"id": order_id})}
"""

CONSUMER = """
import json
import os

import boto3

ddb = boto3.client("dynamodb")


def handler(event, context):
    for record in event["Records"]:
        order_id = json.loads(record["body"])["id"]
        ddb.update_item(
            TableName=os.environ["TABLE"],
            Key={"pk": {"S": order_id}},
            UpdateExpression="SET #done = :yes",
            ExpressionAttributeNames={"#done": "processed"},
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )
"""

STACK = "SoakStack"


def soak_template() -> dict[str, Any]:
    """The soak app's CloudFormation template (inline code: no assets to upload)."""
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_dynamodb as ddb
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_lambda_event_sources as sources
    from aws_cdk import aws_sqs as sqs

    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, STACK, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    table = ddb.Table(stack, "Orders", partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING))
    queue = sqs.Queue(stack, "Queue", visibility_timeout=cdk.Duration.seconds(60))

    def function(name: str, code: str, environment: dict[str, str]) -> Any:
        return lambda_.Function(
            stack,
            name,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline(code),
            environment=environment,
            timeout=cdk.Duration.seconds(10),
        )

    writer = function("Writer", WRITER, {"TABLE": table.table_name, "QUEUE": queue.queue_url})
    consumer = function("Consumer", CONSUMER, {"TABLE": table.table_name})
    consumer.add_event_source(sources.SqsEventSource(queue, batch_size=10))
    table.grant_read_write_data(writer)
    table.grant_read_write_data(consumer)
    queue.grant_send_messages(writer)
    api = apigw.LambdaRestApi(stack, "Api", handler=writer, proxy=False)
    api.root.add_resource("orders").add_method("POST")
    template: dict[str, Any] = app.synth().get_stack_by_name(STACK).template
    return template


def rss_mb() -> float:
    """This process's resident set size (MB), from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class SoakResult:
    requests: int
    clients: int
    seconds: float
    latencies: list[float]
    #: Throughput (req/s) of each tenth of the requests, in completion order.
    tenths: list[float]
    rss_start_mb: float
    rss_peak_mb: float
    rss_drained_mb: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def rss_per_1000_mb(self) -> float:
        return (self.rss_drained_mb - self.rss_start_mb) / self.requests * 1000

    def summary(self) -> str:
        return (
            f"{self.requests} requests, {self.clients} clients, {self.seconds:.1f} s: {self.rate:.0f} req/s, "
            f"p50 {self.percentile(0.5) * 1000:.0f} ms, p99 {self.percentile(0.99) * 1000:.0f} ms; "
            f"throughput first/last tenth {self.tenths[0]:.0f}/{self.tenths[-1]:.0f} req/s; "
            f"RSS start {self.rss_start_mb:.0f} MB, peak {self.rss_peak_mb:.0f} MB, "
            f"drained {self.rss_drained_mb:.0f} MB "
            f"({self.rss_per_1000_mb:+.1f} MB per 1,000 requests)"
        )


def drive(url: str, requests: int, clients: int, *, deadline: float) -> tuple[list[float], list[float], list[str]]:
    """Send ``requests`` POSTs to ``url`` from ``clients`` threads; (completion times, latencies, errors).

    Stops early (bounded) when ``deadline`` (time.monotonic) passes."""
    parts = urllib.parse.urlsplit(url)
    done: list[float] = []
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    remaining = iter(range(requests))

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                n = next(remaining, None)
            if n is None:
                break
            began = time.monotonic()
            try:
                connection.request(
                    "POST",
                    parts.path,
                    body=json.dumps({"qty": n % 7 + 1}),
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
                ok = response.status == 201
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                ok, status = False, repr(exc)
            else:
                status = str(response.status)
            ended = time.monotonic()
            with lock:
                done.append(ended)
                latencies.append(ended - began)
                if not ok:
                    errors.append(status)
        connection.close()

    threads = [threading.Thread(target=client, name=f"soak-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done, latencies, errors


def soak(server: Any, requests: int, clients: int = 8, *, warmup: int = 200, max_seconds: float = 600.0) -> SoakResult:
    """Deploy the soak app into a running LocalCloudServer (if not yet) and drive it."""
    if not any(stack.name == STACK for stack in server.stacks()):
        server.deploy_template(soak_template(), STACK)
    api_id = next(
        r.physical_id for r in server.stack(STACK).resources.values() if r.resource_type == "AWS::ApiGateway::RestApi"
    )
    url = server.api_url(api_id) + "/orders"
    drive(url, warmup, clients, deadline=time.monotonic() + max_seconds)
    server.drain(timeout=120)
    gc.collect()
    rss_start = rss_mb()

    peak = [rss_start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            peak[0] = max(peak[0], rss_mb())

    sampler = threading.Thread(target=sample, name="soak-rss", daemon=True)
    sampler.start()
    started = time.monotonic()
    done, latencies, errors = drive(url, requests, clients, deadline=started + max_seconds)
    seconds = time.monotonic() - started
    stop.set()
    sampler.join()
    server.drain(timeout=300)
    gc.collect()
    tenth = max(1, len(done) // 10)
    done.sort()
    marks = [started] + [done[min(len(done) - 1, (k + 1) * tenth - 1)] for k in range(10)] if done else [started]
    tenths = [tenth / max(1e-9, b - a) for a, b in itertools.pairwise(marks)] or [0.0]
    if len(done) < requests:
        errors.append(f"only {len(done)} of {requests} requests finished within {max_seconds:.0f} s")
    return SoakResult(
        requests=len(done),
        clients=clients,
        seconds=seconds,
        latencies=latencies,
        tenths=tenths,
        rss_start_mb=rss_start,
        rss_peak_mb=max(peak[0], rss_mb()),
        rss_drained_mb=rss_mb(),
        errors=errors,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)

    from patterns.local import LocalCloudServer

    with LocalCloudServer() as server:
        result = soak(server, args.requests, args.clients, max_seconds=args.max_seconds)
    print(result.summary())
    print("throughput per tenth (req/s): " + " ".join(f"{t:.0f}" for t in result.tenths))
    print(f"median latency {statistics.median(result.latencies) * 1000:.0f} ms; errors: {len(result.errors)}")
    return 0 if not result.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
