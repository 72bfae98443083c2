"""Rung 5 for CATALOG 6 FanOutFanIn: FanOutFanInDemo deployed into the local cloud, real images in.

Proves: every good upload's job goes ready, and only once its three renditions exist — each a real
image of its rendition's width with the source's aspect ratio (read back from the bytes), each
written before the job was marked ready, and every fan-in evaluation that saw fewer parts left the
job processing. Faults: a source too small for the large rendition (which must not upscale) and a
corrupt upload are tried maxReceiveCount times by the workers that cannot render them and end in
those workers' DLQs, their jobs never ready; replacing the small upload with a large one completes
its job with parts of the new version only. Nothing is lost (every worker either rendered or
dead-lettered every upload) and nothing is written twice (a redelivered notification changes nothing).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import pytest
from PIL import Image

from demo import fan_out_fan_in as demo
from patterns import core
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._helpers import notified_keys, object_versions, take_bodies
from tests.e2e._local_drive import drive_context

STACK = "FanOutFanInDemo"
WIDTHS = {r.name: r.width for r in demo.RENDITIONS}
WORKERS = {name: f"{STACK}/Assets/{name.capitalize()}Worker" for name in WIDTHS}
FAN_IN = f"{STACK}/Assets/FanIn"

#: key -> (size, format)
GOOD = {
    "photos/landscape.jpg": ((2000, 1500), "JPEG"),
    "photos/portrait.png": ((1500, 2000), "PNG"),
    "photos/panorama.webp": ((3000, 1000), "WEBP"),
    "photos/exactly large.gif": ((1280, 720), "GIF"),
}
SMALL = "photos/small.jpg"  # 800x600: thumbnail and medium fine, large refuses to upscale
CORRUPT = "photos/corrupt.jpg"
UPLOADS = [*GOOD, SMALL, CORRUPT]


def _image(size: tuple[int, int], fmt: str) -> bytes:
    picture = Image.linear_gradient("L").resize(size).convert("P" if fmt == "GIF" else "RGB")
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


def _expected(size: tuple[int, int], width: int) -> tuple[int, int]:
    return width, round(size[1] * width / size[0])


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _jobs(cloud: LocalCloud, table: str) -> dict[str, dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    items = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {i["job_id"]["S"]: {k: TypeDeserializer().deserialize(v) for k, v in i.items()} for i in items}


def _dead_keys(cloud: LocalCloud, url: str) -> list[str]:
    """The upload keys of the notifications in a DLQ (received with a long visibility: taken out)."""
    bodies = take_bodies(cloud, url, visibility_timeout=600)
    return sorted(unquote_plus(r["s3"]["object"]["key"]) for body in bodies for r in json.loads(body)["Records"])


def _evaluations(cloud: LocalCloud) -> list[dict[str, Any]]:
    """The fan-in's "job evaluated" log lines (status and parts it saw), in order."""
    found = []
    for line in cloud.logs(FAN_IN):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "job evaluated":
            found.append(entry)
    return found


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Upload the good photos, the small one and the corrupt one; let everything settle."""
    cloud, stack = deployed
    out = stack.outputs
    s3 = cloud.client("s3")
    for key, (size, fmt) in GOOD.items():
        s3.put_object(Bucket=out["InputBucketName"], Key=key, Body=_image(size, fmt))
    s3.put_object(Bucket=out["InputBucketName"], Key=SMALL, Body=_image((800, 600), "JPEG"))
    s3.put_object(Bucket=out["InputBucketName"], Key=CORRUPT, Body=b"\xff\xd8\xff\xe0 truncated before any pixel")
    cloud.drain(timeout=180)
    return {
        "jobs": _jobs(cloud, out["JobsTableName"]),
        "renditions": object_versions(cloud, out["OutputBucketName"]),
        "dead": {name: _dead_keys(cloud, out[f"{name.capitalize()}DeadLetterQueueUrl"]) for name in WIDTHS},
        "fan_in_dead": _dead_keys(cloud, out["FanInDeadLetterQueueUrl"]),
        "workers": {name: cloud.invocations(ref) for name, ref in WORKERS.items()},
        "fan_in": cloud.invocations(FAN_IN),
        "evaluations": _evaluations(cloud),
    }


def test_every_good_upload_goes_ready_with_each_rendition_at_its_width(deployed, run) -> None:
    cloud, stack = deployed
    s3 = cloud.client("s3")
    for key, (size, _) in GOOD.items():
        job = run["jobs"][key]
        assert job["status"] == "ready", key
        assert job["expected"] == list(WIDTHS)
        for name, width in WIDTHS.items():
            got = s3.get_object(Bucket=stack.outputs["OutputBucketName"], Key=f"{key}/{name}.jpg")
            with Image.open(io.BytesIO(got["Body"].read())) as rendition:
                assert (rendition.format, rendition.size) == ("JPEG", _expected(size, width)), (key, name)
            assert got["ContentType"] == "image/jpeg"
            part = job["parts"][name]
            assert (int(part["width"]), int(part["height"])) == _expected(size, width)


def test_a_job_goes_ready_only_after_every_part_exists(deployed, run) -> None:
    cloud, stack = deployed
    evaluations = run["evaluations"]
    assert {e["status"] for e in evaluations} == {"processing", "ready"}
    for e in evaluations:
        assert (e["status"] == "ready") == (sorted(e["parts"]) == sorted(WIDTHS)), e
    s3 = cloud.client("s3")
    for key in GOOD:
        ready_at = datetime.fromisoformat(run["jobs"][key]["ready_at"])
        for name in WIDTHS:
            head = s3.head_object(Bucket=stack.outputs["OutputBucketName"], Key=f"{key}/{name}.jpg")
            assert head["LastModified"] <= ready_at, (key, name)


def test_a_worker_that_cannot_render_leaves_the_job_not_ready_and_its_event_in_its_dlq(run) -> None:
    job = run["jobs"][SMALL]
    assert job["status"] == "processing"
    assert sorted(job["parts"]) == ["medium", "thumbnail"]
    assert "ready_at" not in job
    assert run["dead"]["large"].count(SMALL) == 1
    assert SMALL not in run["dead"]["thumbnail"] + run["dead"]["medium"]
    handed = Counter(k for inv in run["workers"]["large"] for k in notified_keys(inv))
    assert handed[SMALL] == core.MAX_RECEIVE_COUNT
    assert f"{SMALL}/large.jpg" not in run["renditions"]


def test_a_corrupt_upload_rests_in_every_workers_dlq_and_its_job_never_goes_ready(run) -> None:
    job = run["jobs"][CORRUPT]
    assert (job["status"], job["parts"]) == ("processing", {})
    for name in WIDTHS:
        assert run["dead"][name].count(CORRUPT) == 1, name
        assert Counter(k for inv in run["workers"][name] for k in notified_keys(inv))[CORRUPT] == core.MAX_RECEIVE_COUNT
    assert not [k for k in run["renditions"] if k.startswith(CORRUPT)]


def test_nothing_is_lost_and_nothing_is_written_twice(run) -> None:
    assert set(run["jobs"]) == set(UPLOADS)
    for name in WIDTHS:
        rendered = sorted(k.rsplit("/", 1)[0] for k in run["renditions"] if k.endswith(f"/{name}.jpg"))
        assert sorted(rendered + run["dead"][name]) == sorted(UPLOADS), name  # every upload accounted for once
    assert set(run["renditions"].values()) == {1}  # each rendition written once
    assert run["fan_in_dead"] == []
    failed = [inv.error for invocations in run["workers"].values() for inv in invocations if not inv.ok]
    assert failed == []  # failures are per record (partial batch responses), never the whole invocation
    assert all(inv.ok and inv.result == {"batchItemFailures": []} for inv in run["fan_in"])


def test_a_redelivered_notification_changes_nothing(deployed, run) -> None:
    cloud, stack = deployed
    key = "photos/landscape.jpg"
    body = next(r["body"] for inv in run["workers"]["thumbnail"] for r in inv.event["Records"]
                if key in unquote_plus(r["body"]))
    queue = cloud.physical_id(f"{STACK}/Assets/ThumbnailQueue")
    before = len(cloud.invocations(WORKERS["thumbnail"]))
    cloud.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
    cloud.drain(timeout=60)
    again = cloud.invocations(WORKERS["thumbnail"])[before:]
    assert [k for inv in again for k in notified_keys(inv)] == [key]
    assert all(inv.result == {"batchItemFailures": []} for inv in again)
    assert object_versions(cloud, stack.outputs["OutputBucketName"]) == run["renditions"]
    assert _jobs(cloud, stack.outputs["JobsTableName"])[key] == run["jobs"][key]


def test_replacing_the_small_upload_completes_its_job_with_the_new_versions_parts(deployed, run) -> None:
    cloud, stack = deployed
    out = stack.outputs
    cloud.client("s3").put_object(Bucket=out["InputBucketName"], Key=SMALL, Body=_image((2560, 1280), "JPEG"))
    cloud.drain(timeout=120)
    job = _jobs(cloud, out["JobsTableName"])[SMALL]
    assert job["status"] == "ready"
    assert {name: (int(p["width"]), int(p["height"])) for name, p in job["parts"].items()} == {
        name: _expected((2560, 1280), width) for name, width in WIDTHS.items()
    }
    versions = object_versions(cloud, out["OutputBucketName"])
    assert (versions[f"{SMALL}/thumbnail.jpg"], versions[f"{SMALL}/medium.jpg"], versions[f"{SMALL}/large.jpg"]) == (
        2, 2, 1)


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
