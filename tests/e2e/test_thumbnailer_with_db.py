"""Rung 5 for CATALOG 12 ThumbnailerWithDb: ThumbnailerWithDbDemo deployed into the local cloud.

Proves: each user's record points at the thumbnail made from their upload, and that thumbnail is a
real image within the configured 128x128 (the size the record states); a user who uploads again
points at the newer thumbnail. Faults: a non-image upload and a key without a user id are tried
maxReceiveCount times and end in the thumbnail DLQ, the uploader's record unchanged and no
thumbnail written; a redelivered upload notification writes no second thumbnail. Nothing is lost:
every upload is either thumbnailed once or dead-lettered, and every thumbnail updated its user once.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest
from PIL import Image

from demo import thumbnailer_with_db as demo
from patterns import core
from patterns.local import DeployedStack, LocalCloud
from tests.e2e._helpers import notified_keys, object_versions, take_bodies
from tests.e2e._local_drive import drive_context

STACK = "ThumbnailerWithDbDemo"
THUMBNAILER = f"{STACK}/Avatars/Thumbnailer"
UPDATER = f"{STACK}/Avatars/UserUpdater"
MAX = demo.MAX_SIZE


def _image(size: tuple[int, int], fmt: str, mode: str = "RGB") -> bytes:
    picture = Image.linear_gradient("L").resize(size).convert(mode)
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """What Pillow's thumbnail() makes of ``size`` within MAX x MAX."""
    probe = Image.new("L", size)
    probe.thumbnail((MAX, MAX))
    return probe.size


#: user id -> (file, source size, format, mode)
GOOD = {
    f"user-{n:02d}": (f"avatar.{fmt.lower()}", size, fmt, mode)
    for n, (size, fmt, mode) in enumerate([
        ((640, 480), "PNG", "RGB"), ((480, 640), "JPEG", "RGB"), ((1024, 256), "WEBP", "RGB"),
        ((300, 300), "PNG", "RGBA"), ((90, 60), "PNG", "L"), ((2000, 1500), "JPEG", "RGB"),
        ((128, 129), "GIF", "P"), ((333, 777), "BMP", "RGB"),
    ])
}
MALLORY = "mallory"
BAD_UPLOADS = {f"uploads/{MALLORY}/avatar.png": b"<html>not an image</html>", "uploads/avatar.png": None}
AGAIN = "user-00"


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, DeployedStack]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


def _users(cloud: LocalCloud, table: str) -> dict[str, dict[str, Any]]:
    items = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {i["user_id"]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for i in items}


@pytest.fixture(scope="module")
def run(deployed) -> dict[str, Any]:
    """Seed Mallory's record, upload every good image and the bad uploads, then a second avatar for one user."""
    cloud, stack = deployed
    s3, out = cloud.client("s3"), stack.outputs
    seeded = {"user_id": {"S": MALLORY}, "name": {"S": "Mallory"}, "thumbnail_key": {"S": "thumbnails/mallory/ok.jpg"}}
    cloud.client("dynamodb").put_item(TableName=out["UsersTableName"], Item=seeded)
    for user, (file, size, fmt, mode) in GOOD.items():
        s3.put_object(Bucket=out["UploadsBucketName"], Key=f"uploads/{user}/{file}", Body=_image(size, fmt, mode))
    for key, body in BAD_UPLOADS.items():
        s3.put_object(Bucket=out["UploadsBucketName"], Key=key, Body=body or _image((50, 50), "PNG"))
    cloud.drain(timeout=120)
    first = _users(cloud, out["UsersTableName"])
    s3.put_object(Bucket=out["UploadsBucketName"], Key=f"uploads/{AGAIN}/new.png", Body=_image((200, 400), "PNG"))
    cloud.drain(timeout=60)
    return {
        "first": first,
        "users": _users(cloud, out["UsersTableName"]),
        "thumbnails": object_versions(cloud, out["ThumbnailsBucketName"]),
        "thumbnail_dead": take_bodies(cloud, out["ThumbnailDeadLetterQueueUrl"]),
        "update_dead": take_bodies(cloud, out["UpdateDeadLetterQueueUrl"]),
        "thumbnailer": cloud.invocations(THUMBNAILER),
        "updater": cloud.invocations(UPDATER),
    }


def test_each_user_points_at_a_real_thumbnail_within_the_max_size(deployed, run) -> None:
    cloud, stack = deployed
    s3 = cloud.client("s3")
    for user, (file, size, _, _) in GOOD.items():
        record = run["first"][user]
        assert record["thumbnail_key"] == f"thumbnails/{user}/{file.rsplit('.', 1)[0]}.jpg"
        body = s3.get_object(Bucket=stack.outputs["ThumbnailsBucketName"], Key=record["thumbnail_key"])["Body"]
        with Image.open(io.BytesIO(body.read())) as thumb:
            assert thumb.format == "JPEG"
            assert thumb.size == _fit(size)
            assert max(thumb.size) <= MAX
        assert (int(record["thumbnail_width"]), int(record["thumbnail_height"])) == thumb.size


def test_a_new_upload_moves_the_user_to_the_new_thumbnail(run) -> None:
    assert run["first"][AGAIN]["thumbnail_key"] == f"thumbnails/{AGAIN}/avatar.jpg"
    record = run["users"][AGAIN]
    assert record["thumbnail_key"] == f"thumbnails/{AGAIN}/new.jpg"
    assert (int(record["thumbnail_width"]), int(record["thumbnail_height"])) == _fit((200, 400))
    assert record["thumbnail_updated_at"] > run["first"][AGAIN]["thumbnail_updated_at"]


def test_bad_uploads_are_dead_lettered_and_leave_the_record_unchanged(run) -> None:
    dead = sorted(unquote_plus(json.loads(b)["Records"][0]["s3"]["object"]["key"]) for b in run["thumbnail_dead"])
    assert dead == sorted(BAD_UPLOADS)
    handed = Counter(k for inv in run["thumbnailer"] for k in notified_keys(inv))
    assert all(handed[key] == core.MAX_RECEIVE_COUNT for key in BAD_UPLOADS)
    assert run["users"][MALLORY] == {
        "user_id": MALLORY, "name": "Mallory", "thumbnail_key": "thumbnails/mallory/ok.jpg",
    }
    assert not [k for k in run["thumbnails"] if MALLORY in k]
    assert run["update_dead"] == []
    assert all(inv.ok for inv in run["thumbnailer"] + run["updater"])  # failures were per record


def test_nothing_is_lost_and_nothing_is_applied_twice(run) -> None:
    uploads = {f"uploads/{u}/{f}" for u, (f, *_) in GOOD.items()} | {f"uploads/{AGAIN}/new.png"}
    handed = Counter(k for inv in run["thumbnailer"] for k in notified_keys(inv))
    assert {k: n for k, n in handed.items() if k in uploads} == {k: 1 for k in uploads}
    # one thumbnail (one version) per good upload, and each told the updater exactly once
    assert run["thumbnails"] == {
        f"thumbnails/{k.split('/')[1]}/{k.split('/')[2].rsplit('.', 1)[0]}.jpg": 1 for k in uploads
    }
    assert Counter(k for inv in run["updater"] for k in notified_keys(inv)) == dict.fromkeys(run["thumbnails"], 1)
    assert set(run["users"]) == set(GOOD) | {MALLORY}


def test_a_redelivered_upload_notification_writes_no_second_thumbnail(deployed, run) -> None:
    cloud, stack = deployed
    key = f"uploads/{AGAIN}/new.png"
    body = next(r["body"] for inv in run["thumbnailer"] for r in inv.event["Records"] if key in unquote_plus(r["body"]))
    before = len(cloud.invocations(THUMBNAILER))
    cloud.client("sqs").send_message(QueueUrl=stack.outputs["ThumbnailQueueUrl"], MessageBody=body)
    cloud.drain(timeout=60)
    again = cloud.invocations(THUMBNAILER)[before:]
    assert [k for inv in again for k in notified_keys(inv)] == [key]
    assert all(inv.ok and inv.result == {"batchItemFailures": []} for inv in again)
    assert object_versions(cloud, stack.outputs["ThumbnailsBucketName"]) == run["thumbnails"]
    assert _users(cloud, stack.outputs["UsersTableName"]) == run["users"]


def test_demo_drive_passes_against_the_local_cloud(deployed, run) -> None:
    result = demo.drive(drive_context(*deployed))
    assert result.ok, result
