"""Rung 4 for CATALOG 7 MapReduce: splitter, mapper and reducer against moto.

The pipeline is run by hand (split → chunk messages from the real queue → mapper batches → the
stream record of the job entering ``reducing`` → reducer) and its result is compared with the word
count the text generator knows. Redelivery is exercised the ways SQS does it — a chunk twice in
one batch, again in a later batch, after the job finished, and after a mapper that crashed once —
and never changes the count. Bad input fails alone and writes nothing.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from demo.map_reduce import generate_text
from tests import support
from tests.support import failed_ids, load_handler

INPUT = "wc-input"
OUTPUT = "wc-output"
JOBS = "wc-jobs"
RESULTS = "wc-results"
CHUNK_SIZE = 1024
EVENTS = Path(__file__).parent / "events" / "map_reduce"


@dataclass
class Context:
    function_name: str = "MapReduceDemo-WordCount"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:MapReduceDemo-WordCount"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"


@pytest.fixture
def aws() -> Iterator[SimpleNamespace]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=INPUT)
        s3.create_bucket(Bucket=OUTPUT)
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        jobs = ddb.create_table(
            TableName=JOBS, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        )
        results = ddb.create_table(
            TableName=RESULTS, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}, {"AttributeName": "chunk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"},
                                  {"AttributeName": "chunk", "AttributeType": "S"}],
        )
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="wc-chunks")["QueueUrl"]
        yield SimpleNamespace(s3=s3, jobs=jobs, results=results, sqs=sqs, queue_url=queue_url)


def splitter(aws: SimpleNamespace, *, max_chunks: int = 100) -> ModuleType:
    return load_handler("map_reduce", "splitter", env={
        "INPUT_BUCKET": INPUT, "JOBS_TABLE": JOBS, "CHUNK_QUEUE_URL": aws.queue_url,
        "CHUNK_SIZE": str(CHUNK_SIZE), "MAX_CHUNKS": str(max_chunks),
    })


def mapper() -> ModuleType:
    return load_handler("map_reduce", "mapper", env={
        "INPUT_BUCKET": INPUT, "JOBS_TABLE": JOBS, "RESULTS_TABLE": RESULTS,
    })


def reducer() -> ModuleType:
    return load_handler("map_reduce", "reducer", env={
        "OUTPUT_BUCKET": OUTPUT, "RESULT_PREFIX": "results/", "TOP_N": "3", "JOBS_TABLE": JOBS,
        "RESULTS_TABLE": RESULTS,
    })


def words_module() -> ModuleType:
    return load_handler("map_reduce", "words")


# --- helpers --------------------------------------------------------------------------------------


def put_document(aws: SimpleNamespace, text: str | bytes, key: str = "documents/report.txt") -> str:
    aws.s3.put_object(Bucket=INPUT, Key=key, Body=text.encode() if isinstance(text, str) else text)
    return key


def drain_queue(aws: SimpleNamespace) -> list[str]:
    """Every chunk message the splitter sent (removed from the queue)."""
    bodies = []
    while True:
        got = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return bodies
        for message in got:
            bodies.append(message["Body"])
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])


def sqs_event(*bodies: str) -> dict[str, Any]:
    return support.sqs_event(
        *bodies, queue_arn="arn:aws:sqs:us-east-1:123456789012:MapReduceDemo-WordCountChunkQueue",
        sender_id="AROAIWPX5BD2BHG722MW4:splitter",
    )


def stream_event(aws: SimpleNamespace, job_id: str, *, status: str | None = None) -> dict[str, Any]:
    """The jobs-table stream record of the job as it is now (NEW_IMAGE), in AWS's format."""
    event = copy.deepcopy(json.loads((EVENTS / "job_stream_modify.json").read_text()))
    item = aws.jobs.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"]
    serializer = boto3.dynamodb.types.TypeSerializer()
    image = {k: serializer.serialize(v) for k, v in item.items()}
    if status:
        image["status"] = {"S": status}
    record = event["Records"][0]["dynamodb"]
    record["Keys"] = {"job_id": {"S": job_id}}
    record["NewImage"] = image
    return event


def job(aws: SimpleNamespace, job_id: str) -> dict[str, Any]:
    return aws.jobs.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"]


def result_of(aws: SimpleNamespace, job_id: str) -> dict[str, Any]:
    return json.loads(aws.s3.get_object(Bucket=OUTPUT, Key=f"results/{job_id}.json")["Body"].read())


def map_all(aws: SimpleNamespace, bodies: list[str], *, batch: int = 4) -> ModuleType:
    module = mapper()
    for first in range(0, len(bodies), batch):
        assert module.handler(sqs_event(*bodies[first:first + batch]), Context()) == {"batchItemFailures": []}
    return module


def run_job(aws: SimpleNamespace, text: str, *, job_id: str | None = None) -> tuple[str, list[str]]:
    """Split ``text``; return the job id and its chunk messages (not yet mapped)."""
    request = {"key": put_document(aws, text), **({"job_id": job_id} if job_id else {})}
    answer = splitter(aws).handler(request, Context())
    return answer["job_id"], drain_queue(aws)


# --- words: the pure split and count ---------------------------------------------------------------


def test_words_are_letters_and_digits_with_inner_apostrophes_compared_without_case() -> None:
    words = words_module()
    typographic = "it\u2019s"
    assert words.count_words(f"Don't stop: DON'T! {typographic} 2026, O'Clock; snake_case 'quoted' Straße STRASSE") == (
        Counter({"don't": 2, "stop": 1, typographic: 1, "2026": 1, "o'clock": 1, "snake": 1, "case": 1, "quoted": 1,
                 "strasse": 2})
    )


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_split_points_cover_the_document_contiguously_and_never_cut_a_word(chunk_size: int) -> None:
    words = words_module()
    text, _ = generate_text(400, seed=chunk_size)
    data = text.encode()
    ranges = words.split_points(data, chunk_size)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    for start, end in ranges:
        assert end == len(data) or data[end:end + 1].isspace()
        data[start:end].decode("utf-8")  # every chunk is valid UTF-8 on its own


def test_summing_the_chunk_counts_equals_counting_the_whole_document() -> None:
    words = words_module()
    rng = random.Random(3)
    for _ in range(20):
        text, expected = generate_text(rng.randint(0, 600), seed=rng.randint(0, 10**6))
        data = text.encode()
        total: Counter[str] = Counter()
        for start, end in words.split_points(data, rng.randint(1, 300)):
            total += words.count_words(data[start:end].decode())
        assert total == expected == words.count_words(text)


def test_a_word_longer_than_a_chunk_stays_whole() -> None:
    assert words_module().split_points(b"a" * 50 + b" b", 10) == [(0, 50), (50, 52)]
    assert words_module().split_points(b"", 10) == []


# --- splitter -------------------------------------------------------------------------------------


def test_the_splitter_records_the_job_then_sends_one_range_per_chunk(aws) -> None:
    text, _ = generate_text(1000, seed=1)
    key = put_document(aws, text)
    answer = splitter(aws).handler({"key": key, "job_id": "job-1"}, Context())
    bodies = [json.loads(b) for b in drain_queue(aws)]
    n = len(text.encode()) // CHUNK_SIZE
    assert answer == {"job_id": "job-1", "status": "mapping", "chunks": len(bodies), "key": key}
    assert n <= len(bodies) <= n + 1
    item = job(aws, "job-1")
    etag = aws.s3.head_object(Bucket=INPUT, Key=key)["ETag"].strip('"')
    assert (item["status"], item["chunks"], item["key"], item["etag"], item["size"]) == (
        "mapping", len(bodies), key, etag, len(text.encode()))
    assert "done" not in item
    bodies.sort(key=lambda b: b["chunk"])
    assert [b["chunk"] for b in bodies] == list(range(len(bodies)))
    assert bodies[0]["start"] == 0 and bodies[-1]["end"] == len(text.encode())
    assert all(b["chunks"] == len(bodies) and b["etag"] == etag and b["key"] == key for b in bodies)


def test_a_new_job_id_is_generated_when_none_is_given(aws) -> None:
    key = put_document(aws, "one two three")
    first = splitter(aws).handler({"key": key}, Context())
    second = splitter(aws).handler({"key": key}, Context())
    assert first["job_id"] != second["job_id"]
    assert (first["chunks"], len(drain_queue(aws))) == (1, 2)


def test_a_retried_request_resends_the_same_chunks_of_the_same_job(aws) -> None:
    text, expected = generate_text(500, seed=2)
    key = put_document(aws, text)
    module = splitter(aws)
    first = module.handler({"key": key, "job_id": "retry"}, Context())
    again = module.handler({"key": key, "job_id": "retry"}, Context())
    assert again == first
    bodies = drain_queue(aws)
    assert len(bodies) == 2 * first["chunks"]
    map_all(aws, bodies)  # every chunk delivered twice
    assert job(aws, "retry")["status"] == "reducing"
    reducer().handler(stream_event(aws, "retry"), Context())
    assert Counter(result_of(aws, "retry")["counts"]) == expected


def test_an_empty_document_goes_straight_to_reducing_and_counts_nothing(aws) -> None:
    key = put_document(aws, "")
    answer = splitter(aws).handler({"key": key, "job_id": "empty"}, Context())
    assert answer == {"job_id": "empty", "status": "reducing", "chunks": 0, "key": key}
    assert drain_queue(aws) == []
    assert reducer().handler(stream_event(aws, "empty"), Context()) == {"batchItemFailures": []}
    assert result_of(aws, "empty")["counts"] == {}
    assert (job(aws, "empty")["status"], job(aws, "empty")["total_words"]) == ("done", 0)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({}, "invalid request"),
        ({"key": ""}, "invalid request"),
        ({"key": "documents/report.txt", "extra": 1}, "invalid request"),
        ({"key": "documents/report.txt", "job_id": "no spaces allowed"}, "invalid request"),
        ("{not json", "invalid request"),
        ({"key": "documents/missing.txt"}, "no document 'documents/missing.txt'"),
        ({"key": "documents/latin1.txt"}, "is not UTF-8 text"),
        ({"key": "documents/huge.txt"}, r"has 10000 bytes, more than a job may have \(5 chunks of 1024 bytes = 5120"),
    ],
)
def test_a_bad_request_is_refused_and_nothing_is_written(aws, request_: Any, message: str) -> None:
    put_document(aws, "ok words", "documents/report.txt")
    put_document(aws, "caf\xe9 cr\xe8me".encode("latin-1"), "documents/latin1.txt")
    put_document(aws, "word " * 2000, "documents/huge.txt")
    module = splitter(aws, max_chunks=5)
    with pytest.raises(module.InvalidRequest, match=message):
        module.handler(request_, Context())
    assert aws.jobs.scan()["Items"] == []
    assert drain_queue(aws) == []


def test_a_job_id_of_another_document_is_refused_and_nothing_is_sent(aws) -> None:
    module = splitter(aws)
    module.handler({"key": put_document(aws, "first doc", "a.txt"), "job_id": "taken"}, Context())
    drain_queue(aws)
    with pytest.raises(module.InvalidRequest, match="'taken' already exists for another document"):
        module.handler({"key": put_document(aws, "second doc", "b.txt"), "job_id": "taken"}, Context())
    assert drain_queue(aws) == []
    assert job(aws, "taken")["key"] == "a.txt"


# --- mapper ---------------------------------------------------------------------------------------


def test_a_mapper_writes_the_chunks_partial_and_adds_it_to_the_done_set(aws) -> None:
    job_id, bodies = run_job(aws, "alpha beta alpha " * 100)
    first = json.loads(bodies[0])
    assert mapper().handler(sqs_event(bodies[0]), Context()) == {"batchItemFailures": []}
    partial = aws.results.get_item(Key={"job_id": job_id, "chunk": f"{first['chunk']:06d}"})["Item"]
    text = ("alpha beta alpha " * 100).encode()[first["start"]:first["end"]].decode()
    assert {w: int(c) for w, c in partial["counts"].items()} == Counter(text.split())
    assert (partial["start"], partial["end"]) == (first["start"], first["end"])
    assert int(partial["words"]) == len(text.split())
    assert job(aws, job_id)["done"] == {f"{first['chunk']:06d}"}
    assert job(aws, job_id)["status"] == "mapping"


def test_the_full_pipeline_counts_exactly_what_was_written(aws) -> None:
    text, expected = generate_text(3000, seed=11)
    job_id, bodies = run_job(aws, text)
    assert len(bodies) > 10
    random.Random(5).shuffle(bodies)  # SQS standard queues do not keep order
    map_all(aws, bodies)
    assert job(aws, job_id)["status"] == "reducing"
    assert reducer().handler(stream_event(aws, job_id), Context()) == {"batchItemFailures": []}
    result = result_of(aws, job_id)
    assert Counter(result["counts"]) == expected
    assert (result["total_words"], result["distinct_words"], result["chunks"]) == (3000, len(expected), len(bodies))
    item = job(aws, job_id)
    assert (item["status"], item["total_words"], item["result_key"]) == ("done", 3000, f"results/{job_id}.json")
    top = sorted(expected.items(), key=lambda i: (-i[1], i[0]))[:3]
    assert [(t["word"], int(t["count"])) for t in item["top_words"]] == top


def test_a_chunk_delivered_twice_in_a_batch_and_again_later_counts_once(aws) -> None:
    text, expected = generate_text(800, seed=4)
    job_id, bodies = run_job(aws, text)
    module = mapper()
    assert module.handler(sqs_event(bodies[0], bodies[0], bodies[1]), Context()) == {"batchItemFailures": []}
    assert module.handler(sqs_event(bodies[0]), Context()) == {"batchItemFailures": []}
    assert len(job(aws, job_id)["done"]) == 2
    assert aws.results.scan()["Count"] == 2
    map_all(aws, bodies[1:])
    reducer().handler(stream_event(aws, job_id), Context())
    assert Counter(result_of(aws, job_id)["counts"]) == expected


def test_a_late_duplicate_after_the_job_is_reduced_changes_nothing(aws) -> None:
    text, expected = generate_text(600, seed=6)
    job_id, bodies = run_job(aws, text)
    map_all(aws, bodies)
    reducer().handler(stream_event(aws, job_id), Context())
    before = (job(aws, job_id), aws.results.scan()["Items"])
    assert mapper().handler(sqs_event(*bodies[:3]), Context()) == {"batchItemFailures": []}
    assert (job(aws, job_id), aws.results.scan()["Items"]) == before
    assert Counter(result_of(aws, job_id)["counts"]) == expected


def test_a_mapper_that_crashed_after_recording_its_chunk_completes_the_job_on_retry(aws, monkeypatch) -> None:
    text, expected = generate_text(700, seed=8)
    job_id, bodies = run_job(aws, text)
    module = map_all(aws, bodies[:-1])
    real = module._complete_if_all_done
    calls = []

    def crash_once(job: str) -> None:
        calls.append(job)
        if len(calls) == 1:
            raise TimeoutError("the function timed out after recording its chunk")
        real(job)

    monkeypatch.setattr(module, "_complete_if_all_done", crash_once)
    evt = sqs_event(bodies[-1])
    assert failed_ids(module.handler(evt, Context())) == [evt["Records"][0]["messageId"]]
    assert job(aws, job_id)["status"] == "mapping"  # every chunk recorded, nobody moved it on yet
    assert len(job(aws, job_id)["done"]) == len(bodies)
    assert module.handler(sqs_event(bodies[-1]), Context()) == {"batchItemFailures": []}  # SQS redelivers
    assert job(aws, job_id)["status"] == "reducing"
    reducer().handler(stream_event(aws, job_id), Context())
    assert Counter(result_of(aws, job_id)["counts"]) == expected


def test_a_chunk_that_cannot_be_recorded_fails_alone_and_writes_nothing(aws) -> None:
    job_id, bodies = run_job(aws, "alpha beta " * 300)
    good = json.loads(bodies[0])
    unknown = json.dumps({**good, "job_id": "nobody"})
    wrong_size = json.dumps({**good, "chunks": good["chunks"] + 1})
    replaced = json.dumps({**good, "etag": "0" * 32})
    evt = sqs_event(unknown, wrong_size, replaced, bodies[0])
    response = mapper().handler(evt, Context())
    assert failed_ids(response) == [r["messageId"] for r in evt["Records"][:3]]
    assert [i["chunk"] for i in aws.results.scan()["Items"]] == [f"{good['chunk']:06d}"]
    assert job(aws, job_id)["done"] == {f"{good['chunk']:06d}"}


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{not json", "malformed JSON"),
        ("", "empty body"),
        (json.dumps({"job_id": "j", "chunk": 0}), "missing fields"),
        (json.dumps({"job_id": "j", "chunk": 3, "chunks": 3, "key": "k", "etag": "e", "start": 0, "end": 5}),
         "chunk out of range"),
        (json.dumps({"job_id": "j", "chunk": 0, "chunks": 1, "key": "k", "etag": "e", "start": 5, "end": 5}),
         "empty range"),
    ],
)
def test_a_malformed_chunk_message_fails_alone(aws, body: str, why: str) -> None:
    job_id, bodies = run_job(aws, "gamma " * 10)
    evt = sqs_event(body, bodies[0])
    assert failed_ids(mapper().handler(evt, Context())) == [evt["Records"][0]["messageId"]], why
    assert job(aws, job_id)["status"] == "reducing"  # the one real chunk completed its job
    assert aws.results.scan()["Count"] == 1


# --- reducer --------------------------------------------------------------------------------------


def test_the_reducer_ignores_jobs_that_are_not_reducing(aws) -> None:
    job_id, _ = run_job(aws, "delta " * 10)
    assert reducer().handler(stream_event(aws, job_id, status="mapping"), Context()) == {"batchItemFailures": []}
    assert job(aws, job_id)["status"] == "mapping"
    assert aws.s3.list_objects_v2(Bucket=OUTPUT).get("KeyCount") == 0


def test_a_duplicate_stream_record_reduces_once(aws) -> None:
    text, expected = generate_text(300, seed=9)
    job_id, bodies = run_job(aws, text)
    map_all(aws, bodies)
    record = stream_event(aws, job_id)
    module = reducer()
    module.handler(record, Context())
    done = job(aws, job_id)
    assert module.handler(record, Context()) == {"batchItemFailures": []}
    assert job(aws, job_id) == done
    assert Counter(result_of(aws, job_id)["counts"]) == expected


def test_a_job_missing_a_partial_fails_its_record_and_stays_reducing(aws) -> None:
    job_id, bodies = run_job(aws, "epsilon zeta " * 300)
    map_all(aws, bodies)
    aws.results.delete_item(Key={"job_id": job_id, "chunk": "000001"})
    evt = stream_event(aws, job_id)
    response = reducer().handler(evt, Context())
    assert failed_ids(response) == [evt["Records"][0]["dynamodb"]["SequenceNumber"]]
    assert job(aws, job_id)["status"] == "reducing"
    assert aws.s3.list_objects_v2(Bucket=OUTPUT).get("KeyCount") == 0


def test_a_stream_record_without_a_new_image_is_ignored(aws) -> None:
    event = json.loads((EVENTS / "job_stream_modify.json").read_text())
    record = event["Records"][0]
    record["eventName"] = "REMOVE"
    del record["dynamodb"]["NewImage"]
    assert reducer().handler(event, Context()) == {"batchItemFailures": []}
    assert aws.s3.list_objects_v2(Bucket=OUTPUT).get("KeyCount") == 0
