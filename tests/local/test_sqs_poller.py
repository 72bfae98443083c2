"""SQS event source mappings: partial batch responses, maxReceiveCount → DLQ, concurrency, FIFO order."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import messages, python_function, synth, write_handler

CONSUMER = """
import json
import time


def handler(event, context):
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        time.sleep(body.get("sleep", 0))
        if body.get("poison"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""

ENRICH = """
import json


def handler(event, context):
    return [{"id": json.loads(r["body"])["n"], "square": json.loads(r["body"])["n"] ** 2} for r in event]
"""

POWERTOOLS = """
import json
import time

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

# Powertools' documented usage: one processor at module level, used by every invocation.
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record):
    body = json.loads(record.body)
    time.sleep(0.01)
    if body["poison"]:
        raise ValueError(f"poison {body['n']}")
    time.sleep(0.01)


def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
"""

RAISER = """
import json


def handler(event, context):
    if any(json.loads(r["body"]).get("poison") for r in event["Records"]):
        raise RuntimeError("poison in batch")
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sqs")
    consumer = write_handler(root / "consumer", {"app.py": CONSUMER})
    raiser = write_handler(root / "raiser", {"app.py": RAISER})
    enrich_code = write_handler(root / "enrich", {"app.py": ENRICH})
    powertools = write_handler(root / "powertools", {"app.py": POWERTOOLS})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_lambda_event_sources as sources
        from aws_cdk import aws_sqs as sqs

        stack = cdk.Stack(app, "SqsStack")

        def queue(name: str, max_receive_count: int, **kwargs: Any) -> sqs.Queue:
            dlq = sqs.Queue(stack, f"{name}Dlq", fifo=kwargs.get("fifo"))
            created = sqs.Queue(
                stack,
                name,
                visibility_timeout=cdk.Duration.seconds(60),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
                **kwargs,
            )
            cdk.CfnOutput(stack, f"{name}Url", value=created.queue_url)
            cdk.CfnOutput(stack, f"{name}DlqUrl", value=dlq.queue_url)
            return created

        partial = python_function(stack, "Partial", consumer)
        partial.add_event_source(
            sources.SqsEventSource(queue("PartialQueue", 3), batch_size=10, report_batch_item_failures=True)
        )
        raising = python_function(stack, "Raising", raiser)
        raising.add_event_source(sources.SqsEventSource(queue("RaisingQueue", 2), batch_size=10))
        limited = python_function(stack, "Limited", consumer, reserved_concurrent_executions=2)
        limited.add_event_source(sources.SqsEventSource(queue("LimitedQueue", 5), batch_size=1))
        scaled = python_function(stack, "Scaled", consumer)
        scaled.add_event_source(sources.SqsEventSource(queue("ScaledQueue", 5), batch_size=1, max_concurrency=3))
        batches = python_function(stack, "Batches", powertools)
        batches.add_event_source(
            sources.SqsEventSource(
                queue("BatchesQueue", 3), batch_size=4, max_concurrency=4, report_batch_item_failures=True
            )
        )
        shared = queue("SharedQueue", 5)
        for reader in ("ReaderA", "ReaderB"):  # two mappings read one queue (AWS splits its messages)
            python_function(stack, reader, consumer).add_event_source(sources.SqsEventSource(shared, batch_size=2))
        ordered = python_function(stack, "Ordered", consumer)
        ordered.add_event_source(
            sources.SqsEventSource(queue("OrderedQueue", 5, fifo=True, content_based_deduplication=True), batch_size=3)
        )

        from aws_cdk import aws_iam as iam
        from aws_cdk import aws_pipes as pipes

        source, target = queue("PipeSource", 2), sqs.Queue(stack, "PipeTarget")
        cdk.CfnOutput(stack, "PipeTargetUrl", value=target.queue_url)
        enrich = python_function(stack, "Enrich", enrich_code)
        role = iam.Role(stack, "PipeRole", assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"))
        pipes.CfnPipe(
            stack,
            "Pipe",
            role_arn=role.role_arn,
            source=source.queue_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(batch_size=5),
                filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                    filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps({"body": {"keep": [True]}}))]
                ),
            ),
            enrichment=enrich.function_arn,
            target=target.queue_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                input_template='{"order": <$.id>, "value": <$.square>}'
            ),
        )

    return synth(root / "cdk.out", build)


def _processed_bodies(cloud: LocalCloud, function: str) -> list[dict[str, Any]]:
    """Bodies each successful invocation handled and did not report as failed."""
    done = []
    for invocation in cloud.invocations(function):
        failed = {f["itemIdentifier"] for f in (invocation.result or {}).get("batchItemFailures", [])}
        if invocation.ok:
            done += [json.loads(r["body"]) for r in invocation.event["Records"] if r["messageId"] not in failed]
    return done


def test_poison_message_goes_to_dlq_after_max_receive_count_and_the_rest_is_processed(
    cloud: LocalCloud, assembly: Path
) -> None:
    # GIVEN a consumer with partial batch responses and a queue whose DLQ takes messages after 3 receives
    stack = cloud.deploy(assembly, "SqsStack")
    sqs = cloud.client("sqs")
    url = stack.outputs["PartialQueueUrl"]
    bodies = [{"n": n, "poison": n in (4, 13)} for n in range(25)]
    for start in range(0, 25, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(b["n"]), "MessageBody": json.dumps(b)} for b in bodies[start : start + 10]],
        )

    # WHEN the poller runs until the cloud is quiet
    cloud.drain(timeout=20)

    # THEN each good message was processed exactly once, each poison message was tried 3 times
    processed = Counter(b["n"] for b in _processed_bodies(cloud, "Partial"))
    assert processed == Counter(n for n in range(25) if n not in (4, 13))
    deliveries = Counter(json.loads(r["body"])["n"] for i in cloud.invocations("Partial") for r in i.event["Records"])
    assert deliveries[4] == deliveries[13] == 3
    assert all(i.ok and len(i.event["Records"]) <= 10 for i in cloud.invocations("Partial"))
    # AND the poison messages are in the DLQ with their receive count, the queue is empty
    dead = messages(cloud, stack.outputs["PartialQueueDlqUrl"])
    assert sorted(json.loads(m["Body"])["n"] for m in dead) == [4, 13]
    assert messages(cloud, url) == []


def test_a_function_error_fails_the_whole_batch(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a consumer without partial batch responses that raises when its batch holds a poison message
    stack = cloud.deploy(assembly, "SqsStack")
    sqs = cloud.client("sqs")
    for n in range(5):
        sqs.send_message(QueueUrl=stack.outputs["RaisingQueueUrl"], MessageBody=json.dumps({"n": n, "poison": n == 2}))

    # WHEN drained
    cloud.drain(timeout=20)

    # THEN every message of that batch was retried with it and all five reached the DLQ (maxReceiveCount 2)
    assert [len(i.event["Records"]) for i in cloud.invocations("Raising")] == [5, 5]
    assert all(i.error and i.error["errorType"] == "RuntimeError" for i in cloud.invocations("Raising"))
    dead = messages(cloud, stack.outputs["RaisingQueueDlqUrl"])
    assert sorted(json.loads(m["Body"])["n"] for m in dead) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("function", "queue", "limit"), [("Limited", "LimitedQueueUrl", 2), ("Scaled", "ScaledQueueUrl", 3)]
)
def test_consumer_never_runs_above_its_concurrency_limit(
    cloud: LocalCloud, assembly: Path, function: str, queue: str, limit: int
) -> None:
    # GIVEN a slow consumer limited by reserved concurrency (2) or the mapping's maximum concurrency (3)
    stack = cloud.deploy(assembly, "SqsStack")
    sqs = cloud.client("sqs")
    for n in range(9):
        sqs.send_message(QueueUrl=stack.outputs[queue], MessageBody=json.dumps({"n": n, "sleep": 0.15}))

    # WHEN a burst is drained
    cloud.drain(timeout=20)

    # THEN batches ran in parallel up to the limit and never above it
    assert cloud.max_concurrency(function) == limit
    assert sorted(b["n"] for b in _processed_bodies(cloud, function)) == list(range(9))


def test_fifo_queue_keeps_message_group_order(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a FIFO queue with messages of two groups, interleaved
    stack = cloud.deploy(assembly, "SqsStack")
    sqs = cloud.client("sqs")
    for n in range(10):
        group = "a" if n % 2 else "b"
        sqs.send_message(
            QueueUrl=stack.outputs["OrderedQueueUrl"],
            MessageBody=json.dumps({"n": n, "group": group}),
            MessageGroupId=group,
        )

    # WHEN drained in batches of 3
    cloud.drain(timeout=20)

    # THEN within each group the messages were processed in the order they were sent
    seen = _processed_bodies(cloud, "Ordered")
    for group in ("a", "b"):
        order = [b["n"] for b in seen if b["group"] == group]
        assert order == sorted(order) and len(order) == 5
    records = cloud.invocations("Ordered")[0].event["Records"]
    assert {"MessageGroupId", "SequenceNumber", "MessageDeduplicationId"} <= set(records[0]["attributes"])


def test_pipe_filters_enriches_and_delivers_to_its_target(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN an EventBridge Pipe: SQS source (filter keep=true) → Lambda enrichment → SQS target with a template
    stack = cloud.deploy(assembly, "SqsStack")
    sqs = cloud.client("sqs")
    for n in range(4):
        sqs.send_message(QueueUrl=stack.outputs["PipeSourceUrl"], MessageBody=json.dumps({"n": n, "keep": n != 2}))

    # WHEN drained
    cloud.drain(timeout=20)

    # THEN the kept messages were enriched in one batch and delivered through the input template
    bodies = sorted((json.loads(m["Body"]) for m in messages(cloud, stack.outputs["PipeTargetUrl"])), key=str)
    assert bodies == [{"order": 0, "value": 0}, {"order": 1, "value": 1}, {"order": 3, "value": 9}]
    (enrichment,) = cloud.invocations("Enrich")
    assert [json.loads(r["body"])["n"] for r in enrichment.event] == [0, 1, 3]
    assert messages(cloud, stack.outputs["PipeSourceUrl"]) == []


def test_a_module_level_batch_processor_never_mixes_up_concurrent_batches(cloud: LocalCloud, assembly: Path) -> None:
    # GIVEN a consumer with Powertools' BatchProcessor at module level, four batches at a time, and
    # a queue whose DLQ takes messages after 3 receives
    stack = cloud.deploy(assembly, "SqsStack")
    sqs = cloud.client("sqs")
    url = stack.outputs["BatchesQueueUrl"]
    poison = {n for n in range(48) if n % 6 == 5}
    for start in range(0, 48, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"n": n, "poison": n in poison})}
                for n in range(start, min(start + 10, 48))
            ],
        )

    # WHEN the poller runs the batches concurrently (each record takes a little time)
    cloud.drain(timeout=30)

    # THEN batches really overlapped, yet every good record was delivered and processed exactly once
    invocations = cloud.invocations("Batches")
    assert cloud.max_concurrency("Batches") > 1
    deliveries = Counter(json.loads(r["body"])["n"] for i in invocations for r in i.event["Records"])
    assert {n: c for n, c in deliveries.items() if n not in poison} == {n: 1 for n in range(48) if n not in poison}
    # AND each invocation reported exactly its own failed records, no other batch's
    for invocation in invocations:
        own = {r["messageId"]: json.loads(r["body"])["n"] for r in invocation.event["Records"]}
        if invocation.ok:
            reported = {f["itemIdentifier"] for f in invocation.result["batchItemFailures"]}
            assert reported == {m for m, n in own.items() if n in poison}
        else:  # Powertools raises when every record of a batch failed
            assert set(own.values()) <= poison
    # AND every poison record was tried maxReceiveCount (3) times and rests in the DLQ
    assert {n: deliveries[n] for n in poison} == {n: 3 for n in poison}
    dead = messages(cloud, stack.outputs["BatchesQueueDlqUrl"])
    assert sorted(json.loads(m["Body"])["n"] for m in dead) == sorted(poison)
    assert messages(cloud, url) == []


def test_background_polling_with_drain_never_delivers_an_in_flight_message_twice(assembly: Path) -> None:
    # GIVEN a cloud polling in the background, and two mappings (two functions) reading one queue
    with LocalCloud(front_door=False, background=True) as cloud:
        stack = cloud.deploy(assembly, "SqsStack")
        sqs = cloud.client("sqs")
        for start in range(0, 30, 10):
            sqs.send_message_batch(
                QueueUrl=stack.outputs["SharedQueueUrl"],
                Entries=[
                    {"Id": str(n), "MessageBody": json.dumps({"n": n, "sleep": 0.05})} for n in range(start, start + 10)
                ],
            )

        # WHEN drain() fast-forwards the queue while batches of both readers are in flight
        cloud.drain(timeout=30)

        # THEN every message was delivered exactly once, to one of the readers
        deliveries = Counter(
            json.loads(r["body"])["n"]
            for reader in ("ReaderA", "ReaderB")
            for i in cloud.invocations(reader)
            for r in i.event["Records"]
        )
        assert deliveries == Counter(range(30))
        assert messages(cloud, stack.outputs["SharedQueueUrl"]) == []
        assert cloud.errors == []


def test_fast_forward_never_makes_another_mappings_in_flight_batch_visible(assembly: Path) -> None:
    # GIVEN a cloud polling in the background, two mappings reading one queue, slow batches in flight
    with LocalCloud(front_door=False, background=True) as cloud:
        stack = cloud.deploy(assembly, "SqsStack")
        sqs = cloud.client("sqs")
        for n in range(4):
            sqs.send_message(QueueUrl=stack.outputs["SharedQueueUrl"], MessageBody=json.dumps({"n": n, "sleep": 0.4}))
        readers = [cloud.function_name(r) for r in ("ReaderA", "ReaderB")]
        deadline = time.monotonic() + 10
        while sum(cloud.core.runtime.inflight(r) for r in readers) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

        # WHEN drain's fast-forward step runs at that moment (it skips visibility timeouts)
        cloud.core.engine.pollers.fast_forward()
        cloud.drain(timeout=30)

        # THEN the in-flight messages stayed invisible: each was delivered exactly once
        deliveries = Counter(
            json.loads(r["body"])["n"] for name in readers for i in cloud.invocations(name) for r in i.event["Records"]
        )
        assert deliveries == Counter(range(4))
