"""Read-back helpers shared by the e2e tests: what the local cloud's buckets, queues and invocations hold."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import unquote_plus

from patterns.local import LocalCloud


def object_versions(cloud: LocalCloud, bucket: str) -> Counter[str]:
    """How many versions of each key ``bucket`` holds (a key written twice counts 2)."""
    listing = cloud.client("s3").list_object_versions(Bucket=bucket).get("Versions", [])
    return Counter(v["Key"] for v in listing)


def notified_keys(invocation: Any) -> list[str]:
    """The object keys of the S3 notifications an SQS-triggered invocation received (S3's test event has none)."""
    return [
        unquote_plus(r["s3"]["object"]["key"])
        for record in invocation.event["Records"]
        for r in json.loads(record["body"]).get("Records", [])
    ]


def take_bodies(cloud: LocalCloud, url: str, *, visibility_timeout: int = 300) -> list[str]:
    """The bodies of every message in the queue, received with a long visibility: taken out."""
    sqs, bodies = cloud.client("sqs"), []
    while got := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility_timeout
    ).get("Messages"):
        bodies += [m["Body"] for m in got]
    return bodies
