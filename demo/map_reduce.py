"""MapReduceDemo: the word count of a generated document, split into 4 KiB chunks, mapped in
parallel and reduced once every chunk is counted.

The generator knows which words it wrote, so the expected count is computed directly from the
input rather than by the code under test.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.map_reduce import MapReduce

CHUNK_SIZE = 4 * 1024
#: Plain words, contractions, accented and non-Latin words (multi-byte UTF-8), digits.
VOCABULARY = (
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "serverless", "lambda", "queue", "map",
    "reduce", "don't", "it's", "café", "naïve", "straße", "東京", "données", "2026", "v2", "o'clock", "über",
)
SEPARATORS = (" ", " ", " ", "  ", "\n", ", ", ". ", "; ", " - ", "! ", "? ", ":\t", " (", ") ", " \"", "\" ", "\r\n")


def generate_text(words: int, seed: int) -> tuple[str, Counter[str]]:
    """A document of ``words`` words in random case with punctuation and line breaks, and its exact word count."""
    rng = random.Random(seed)
    parts: list[str] = []
    expected: Counter[str] = Counter()
    for _ in range(words):
        word = rng.choice(VOCABULARY)
        expected[word.casefold()] += 1  # words are counted without case ("STRASSE" is "straße")
        cased = rng.choice((word, word.upper(), word.capitalize()))
        parts.append(cased + rng.choice(SEPARATORS))
    return "".join(parts), expected


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 7 MapReduce: word count split into chunks, mapped in "
                                               "parallel, reduced once")
    pattern = MapReduce(
        stack, "WordCount",
        chunk_size=CHUNK_SIZE,
        jobs_table_props={"removal_policy": RemovalPolicy.DESTROY},
        results_table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "InputBucketName", value=pattern.input_bucket.bucket_name)
    CfnOutput(stack, "OutputBucketName", value=pattern.output_bucket.bucket_name)
    CfnOutput(stack, "JobsTableName", value=pattern.jobs_table.table_name)
    CfnOutput(stack, "ResultsTableName", value=pattern.results_table.table_name)
    CfnOutput(stack, "SplitterFunctionName", value=pattern.splitter.function_name)
    CfnOutput(stack, "ChunkQueueUrl", value=pattern.chunk_queue.queue_url)
    CfnOutput(stack, "ChunkDeadLetterQueueUrl", value=pattern.chunk_dead_letter_queue.queue_url)
    CfnOutput(stack, "ReducerDeadLetterQueueUrl", value=pattern.reducer_dead_letter_queue.queue_url)
    return stack


def start(ctx: DriveContext, text: str, *, job_id: str | None = None) -> dict:
    """Upload ``text`` and invoke the splitter; returns its answer (``job_id``, ``status``, ``chunks``)."""
    key = f"documents/{uuid.uuid4().hex[:8]}.txt"
    ctx.client("s3").put_object(Bucket=ctx.outputs["InputBucketName"], Key=key, Body=text.encode("utf-8"),
                                ContentType="text/plain; charset=utf-8")
    request = {"key": key, **({"job_id": job_id} if job_id else {})}
    response = ctx.client("lambda").invoke(
        FunctionName=ctx.outputs["SplitterFunctionName"], Payload=json.dumps(request).encode()
    )
    answer = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise RuntimeError(f"splitter failed: {answer}")
    return answer


def wait_done(ctx: DriveContext, job_id: str, timeout: float = 60) -> dict | None:
    """The finished job's result document (the output bucket's JSON), or None if it did not finish."""
    ddb = ctx.client("dynamodb")

    def done() -> dict | None:
        item = ddb.get_item(TableName=ctx.outputs["JobsTableName"], Key={"job_id": {"S": job_id}},
                            ConsistentRead=True).get("Item")
        return item if item and item["status"]["S"] == "done" else None

    job = ctx.wait_for(done, timeout=timeout)
    if not job:
        return None
    body = ctx.client("s3").get_object(Bucket=ctx.outputs["OutputBucketName"], Key=job["result_key"]["S"])["Body"]
    return json.loads(body.read())


def drive(ctx: DriveContext) -> DriveResult:
    """Count the words of a 5000-word document: the reduced counts equal the generator's."""
    text, expected = generate_text(5000, seed=7)
    answer = start(ctx, text)
    result = wait_done(ctx, answer["job_id"])
    sent = f"{len(text.encode())} bytes, 5000 words → {answer['chunks']} chunks"
    if result is None:
        return DriveResult(sent=sent, outcome="job not done", ok=False)
    return DriveResult(
        sent=sent,
        outcome=f"{result['total_words']} words, {result['distinct_words']} distinct",
        ok=Counter(result["counts"]) == expected and result["total_words"] == 5000,
    )
