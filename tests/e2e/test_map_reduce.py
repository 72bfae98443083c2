"""Rung 5 for CATALOG 7 MapReduce: MapReduceDemo deployed into the local cloud, real documents in.

Proves: the reduced word count of each document equals the count its generator knows (computed
from the input, not by the code under test), for a document of dozens of chunks, a small one and
an empty one; each job is reduced exactly once. Faults: chunk messages delivered twice while the job
is mapping, and again after it finished, do not change a single count; a document replaced after it
was split fails every chunk (the bytes no longer match), which rest in the chunk DLQ while the job
stays ``mapping`` — never reduced from a partial count. Nothing is lost: every chunk is either
counted once or dead-lettered.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from demo import map_reduce as demo
from patterns import core
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "MapReduceDemo"
SPLITTER = f"{STACK}/WordCount/Splitter"
MAPPER = f"{STACK}/WordCount/Mapper"
REDUCER = f"{STACK}/WordCount/Reducer"

BIG, _ = demo.generate_text(20000, seed=1)
SMALL, _ = demo.generate_text(700, seed=2)
DOCUMENTS = {"docs/big.txt": (BIG, 20000, 1), "docs/small.txt": (SMALL, 700, 2), "docs/empty.txt": ("", 0, 0)}
CHANGED = "docs/changed.txt"


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _item(cloud: LocalCloud, table: str, job_id: str) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    item = cloud.client("dynamodb").get_item(TableName=table, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
    return {k: TypeDeserializer().deserialize(v) for k, v in item["Item"].items()}


def _partials(cloud: LocalCloud, table: str, job_id: str) -> list[dict[str, Any]]:
    pages = cloud.client("dynamodb").get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="job_id = :j", ExpressionAttributeValues={":j": {"S": job_id}},
        ConsistentRead=True,
    )
    return [i for page in pages for i in page["Items"]]


def _chunks_of(invocations: list[Any]) -> Counter[tuple[str, int]]:
    """(job_id, chunk) of every chunk message the mapper was handed, with how often."""
    return Counter((b["job_id"], b["chunk"]) for inv in invocations for b in
                   (json.loads(r["body"]) for r in inv.event["Records"]))


def _logged(cloud: LocalCloud, function: str, message: str) -> list[dict[str, Any]]:
    entries = []
    for line in cloud.logs(function):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == message:
            entries.append(entry)
    return entries


def _dead(cloud: LocalCloud, url: str) -> list[dict[str, Any]]:
    sqs, bodies = cloud.client("sqs"), []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in got]
    return bodies


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Split every document; deliver some chunks twice before mapping; replace one document; settle."""
    cloud, stack = deployed
    out = stack.outputs
    s3, sqs = cloud.client("s3"), cloud.client("sqs")
    jobs = {}
    for key, (text, _, _) in DOCUMENTS.items():
        s3.put_object(Bucket=out["InputBucketName"], Key=key, Body=text.encode())
        jobs[key] = cloud.invoke(SPLITTER, {"key": key})
    # Pollers run only inside drain(): the chunk messages are all waiting. Peek at some (they stay
    # visible) and send each again, as SQS's at-least-once delivery may.
    peeked = sqs.receive_message(QueueUrl=out["ChunkQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0)
    duplicated = [m["Body"] for m in peeked["Messages"]]
    for body in duplicated:
        sqs.send_message(QueueUrl=out["ChunkQueueUrl"], MessageBody=body)
    # A document replaced after its split: its chunks' byte ranges belong to a version that is gone.
    s3.put_object(Bucket=out["InputBucketName"], Key=CHANGED, Body=demo.generate_text(3000, seed=3)[0].encode())
    jobs[CHANGED] = cloud.invoke(SPLITTER, {"key": CHANGED})
    s3.put_object(Bucket=out["InputBucketName"], Key=CHANGED, Body=b"a different text now")
    cloud.drain(timeout=240)
    return {
        "jobs": jobs,
        "duplicated": [(json.loads(b)["job_id"], json.loads(b)["chunk"]) for b in duplicated],
        "items": {key: _item(cloud, out["JobsTableName"], answer["job_id"]) for key, answer in jobs.items()},
        "mapped": _chunks_of(cloud.invocations(MAPPER)),
        "reduced": Counter(e["job_id"] for e in _logged(cloud, REDUCER, "job reduced")),
        "results": Counter(v["Key"] for v in cloud.client("s3").list_object_versions(
            Bucket=out["OutputBucketName"]).get("Versions", [])),
        "chunk_dead": _dead(cloud, out["ChunkDeadLetterQueueUrl"]),
        "reducer_dead": _dead(cloud, out["ReducerDeadLetterQueueUrl"]),
    }


def _result(cloud: LocalCloud, stack: DeployedStack, job_id: str) -> dict[str, Any]:
    body = cloud.client("s3").get_object(Bucket=stack.outputs["OutputBucketName"], Key=f"results/{job_id}.json")["Body"]
    return json.loads(body.read())


def test_the_reduced_counts_equal_a_direct_count_of_each_document(deployed, run) -> None:
    cloud, stack = deployed
    for key, (_, words, seed) in DOCUMENTS.items():
        expected = demo.generate_text(words, seed=seed)[1] if words else Counter()
        job_id = run["jobs"][key]["job_id"]
        item = run["items"][key]
        assert item["status"] == "done", key
        result = _result(cloud, stack, job_id)
        assert Counter(result["counts"]) == expected, key
        assert (result["total_words"], item["total_words"]) == (words, words)
        assert result["distinct_words"] == len(expected)
        assert item["chunks"] == run["jobs"][key]["chunks"] == result["chunks"]
    assert run["jobs"]["docs/big.txt"]["chunks"] >= 30  # a real fan-out: dozens of mappers' work
    assert run["jobs"]["docs/empty.txt"] == {"job_id": run["jobs"]["docs/empty.txt"]["job_id"], "status": "reducing",
                                             "chunks": 0, "key": "docs/empty.txt"}


def test_chunks_delivered_twice_count_once(deployed, run) -> None:
    cloud, stack = deployed
    assert len(run["duplicated"]) == 10
    for chunk in run["duplicated"]:
        assert run["mapped"][chunk] >= 2, chunk  # the mapper really got it twice
    for key in DOCUMENTS:
        job_id, chunks = run["jobs"][key]["job_id"], run["jobs"][key]["chunks"]
        partials = _partials(cloud, stack.outputs["ResultsTableName"], job_id)
        assert sorted(p["chunk"]["S"] for p in partials) == [f"{i:06d}" for i in range(chunks)]
        assert len(run["items"][key].get("done", set())) == chunks


def test_each_job_is_reduced_exactly_once(run) -> None:
    done = {run["jobs"][key]["job_id"] for key in DOCUMENTS}
    assert run["reduced"] == dict.fromkeys(done, 1)
    assert run["results"] == {f"results/{job_id}.json": 1 for job_id in done}
    assert run["reducer_dead"] == []


def test_a_document_replaced_after_its_split_is_never_reduced_and_its_chunks_rest_in_the_dlq(run) -> None:
    job_id, chunks = run["jobs"][CHANGED]["job_id"], run["jobs"][CHANGED]["chunks"]
    item = run["items"][CHANGED]
    assert item["status"] == "mapping"
    assert "done" not in item
    assert sorted(b["chunk"] for b in run["chunk_dead"] if b["job_id"] == job_id) == list(range(chunks))
    assert all(run["mapped"][(job_id, i)] == core.MAX_RECEIVE_COUNT for i in range(chunks))
    assert f"results/{job_id}.json" not in run["results"]


def test_nothing_is_lost(run) -> None:
    # every chunk of every job was either counted (its partial exists, above) or dead-lettered
    changed = run["jobs"][CHANGED]["job_id"]
    assert {b["job_id"] for b in run["chunk_dead"]} == {changed}
    for key in DOCUMENTS:
        job_id, chunks = run["jobs"][key]["job_id"], run["jobs"][key]["chunks"]
        assert {c for (j, c) in run["mapped"] if j == job_id} == set(range(chunks))


def test_late_duplicates_after_a_job_finished_change_nothing(deployed, run) -> None:
    cloud, stack = deployed
    out = stack.outputs
    job_id = run["jobs"]["docs/small.txt"]["job_id"]
    bodies = [r["body"] for inv in cloud.invocations(MAPPER) for r in inv.event["Records"]
              if json.loads(r["body"])["job_id"] == job_id]
    before = (_item(cloud, out["JobsTableName"], job_id), _partials(cloud, out["ResultsTableName"], job_id))
    for body in bodies:
        cloud.client("sqs").send_message(QueueUrl=out["ChunkQueueUrl"], MessageBody=body)
    cloud.drain(timeout=60)
    assert (_item(cloud, out["JobsTableName"], job_id), _partials(cloud, out["ResultsTableName"], job_id)) == before
    versions = cloud.client("s3").list_object_versions(Bucket=out["OutputBucketName"], Prefix=f"results/{job_id}")
    assert len(versions["Versions"]) == 1
    assert _dead(cloud, out["ChunkDeadLetterQueueUrl"]) == []


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
