"""Rung 4 for CATALOG 12 ThumbnailerWithDb: thumbnailer and user updater against moto S3 and DynamoDB.

Thumbnailer: real images (PNG, JPEG with EXIF rotation, RGBA) become real thumbnails within the
bounds, keeping the aspect ratio and never enlarging, at ``thumbnails/<user>/<name>.jpg`` with their
size in the metadata; a redelivered notification writes nothing more. Non-images, truncated images,
oversized images, keys without a user and malformed bodies fail their record alone and write nothing.
Updater: a thumbnail's event points the user's record at it (other attributes kept); an older or
redelivered event never replaces a newer thumbnail; a thumbnail gone meanwhile changes nothing.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from tests.support import failed_ids, load_handler, sqs_record_like

EVENTS = Path(__file__).parent / "events" / "thumbnailer_with_db"
S3_EVENT = json.loads((EVENTS / "s3_object_created.json").read_text())
TEST_EVENT = json.loads((EVENTS / "s3_test_event.json").read_text())
RECORD = json.loads((EVENTS / "sqs_record.json").read_text())
UPLOADS = "avatars-uploads"
THUMBS = "avatars-thumbnails"
USERS = "avatars-users"
IDEMPOTENCY = "avatars-idempotency"
MAX = 256


@dataclass
class Context:
    """A Lambda context: Logger reads the names, idempotency the remaining time."""

    function_name: str = "ThumbnailerWithDbDemo-AvatarsThumbnailer"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "0e1d2c3b-0000-4000-8000-000000000012"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


def image(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB", orientation: int | None = None) -> bytes:
    """A real image: a gradient (with a transparent side for alpha modes), so resampling has work to do."""
    picture = Image.linear_gradient("L").resize(size).convert(mode)
    if mode.endswith("A"):
        picture.putalpha(Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize(size))
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        picture.save(out, format=fmt, exif=exif.tobytes())
    else:
        picture.save(out, format=fmt)
    return out.getvalue()


def notification(bucket: str, key: str, *, etag: str = "d41d8cd98f00b204e9800998ecf8427e",
                 event_time: str = "2026-11-23T12:00:00.000Z") -> dict[str, Any]:
    event = copy.deepcopy(S3_EVENT)
    record = event["Records"][0]
    record["eventTime"] = event_time
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    obj = record["s3"]["object"]
    obj.update(key=quote_plus(key), eTag=etag, sequencer=uuid.uuid4().hex[:18].upper())
    obj.pop("versionId")
    return event


@dataclass
class Env:
    thumbnailer: ModuleType
    updater: ModuleType
    s3: Any
    ddb: Any

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        put = self.s3.put_object(Bucket=UPLOADS, Key=key, Body=body)
        return notification(UPLOADS, key, etag=put["ETag"].strip('"'))

    def thumbnail(self, *bodies: str) -> tuple[dict[str, Any], list[str]]:
        records = [sqs_record_like(RECORD, b) for b in bodies]
        return self.thumbnailer.handler({"Records": records}, Context()), [r["messageId"] for r in records]

    def update(self, *bodies: str) -> tuple[dict[str, Any], list[str]]:
        records = [sqs_record_like(RECORD, b) for b in bodies]
        return self.updater.handler({"Records": records}, Context()), [r["messageId"] for r in records]

    def thumbnails(self) -> dict[str, int]:
        """Number of versions of every thumbnail, by key."""
        found: dict[str, int] = {}
        for version in self.s3.list_object_versions(Bucket=THUMBS).get("Versions", []):
            found[version["Key"]] = found.get(version["Key"], 0) + 1
        return found

    def size_of(self, key: str) -> tuple[int, int]:
        with Image.open(io.BytesIO(self.s3.get_object(Bucket=THUMBS, Key=key)["Body"].read())) as thumb:
            return thumb.size

    def user(self, user_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=USERS, Key={"user_id": {"S": user_id}}).get("Item")
        return boto3.dynamodb.types.TypeDeserializer().deserialize({"M": item}) if item else None

    def users(self) -> int:
        return self.ddb.scan(TableName=USERS, Select="COUNT")["Count"]


@pytest.fixture(scope="module")
def cloud() -> Iterator[Env]:
    """moto and both handlers, set up once per module (importing Powertools and Pillow costs ~0.5 s)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (UPLOADS, THUMBS):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for table, key in ((USERS, "user_id"), (IDEMPOTENCY, "id")):
            ddb.create_table(
                TableName=table, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            )
        thumbnailer = load_handler("thumbnailer_with_db", "thumbnailer", env={
            "UPLOAD_PREFIX": "uploads/", "THUMBNAILS_BUCKET": THUMBS, "THUMBNAIL_PREFIX": "thumbnails/",
            "MAX_WIDTH": str(MAX), "MAX_HEIGHT": str(MAX), "THUMBNAIL_FORMAT": "JPEG",
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY, "POWERTOOLS_SERVICE_NAME": "thumbnailer",
        })
        updater = load_handler("thumbnailer_with_db", "updater", env={
            "USERS_TABLE_NAME": USERS, "THUMBNAIL_PREFIX": "thumbnails/", "POWERTOOLS_SERVICE_NAME": "user-updater",
        })
        yield Env(thumbnailer, updater, s3, ddb)


@pytest.fixture
def env(cloud: Env) -> Env:
    """A clean slate per test: empty buckets and tables."""
    for bucket in (UPLOADS, THUMBS):
        for v in cloud.s3.list_object_versions(Bucket=bucket).get("Versions", []):
            cloud.s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    for table, key in ((USERS, "user_id"), (IDEMPOTENCY, "id")):
        for item in cloud.ddb.scan(TableName=table)["Items"]:
            cloud.ddb.delete_item(TableName=table, Key={key: item[key]})
    return cloud


# -- thumbnailer ------------------------------------------------------------------------------------


def test_an_upload_becomes_a_bounded_jpeg_thumbnail_with_its_size_in_metadata(env: Env) -> None:
    response, _ = env.thumbnail(json.dumps(env.upload("uploads/ana/avatar.png", image((640, 480)))))
    assert response == {"batchItemFailures": []}
    assert env.thumbnails() == {"thumbnails/ana/avatar.jpg": 1}
    head = env.s3.head_object(Bucket=THUMBS, Key="thumbnails/ana/avatar.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["Metadata"] == {
        "user-id": "ana", "width": "256", "height": "192", "source-key": "uploads/ana/avatar.png",
    }
    body = env.s3.get_object(Bucket=THUMBS, Key="thumbnails/ana/avatar.jpg")["Body"].read()
    with Image.open(io.BytesIO(body)) as thumb:
        assert (thumb.format, thumb.size, thumb.mode) == ("JPEG", (256, 192), "RGB")


@pytest.mark.parametrize(("size", "expected"), [
    ((640, 480), (256, 192)),
    ((300, 1200), (64, 256)),
    ((256, 256), (256, 256)),
    ((50, 40), (50, 40)),  # never enlarged
])
def test_thumbnails_keep_the_aspect_ratio_within_the_bounds(env: Env, size: tuple[int, int],
                                                            expected: tuple[int, int]) -> None:
    response, _ = env.thumbnail(json.dumps(env.upload("uploads/bo/pic.png", image(size))))
    assert failed_ids(response) == []
    assert env.size_of("thumbnails/bo/pic.jpg") == expected


def test_exif_orientation_is_applied(env: Env) -> None:
    # a landscape JPEG whose EXIF says "rotate 90°": the thumbnail is portrait
    env.thumbnail(json.dumps(env.upload("uploads/cy/photo.jpeg", image((640, 480), "JPEG", orientation=6))))
    assert env.size_of("thumbnails/cy/photo.jpg") == (192, 256)


def test_transparent_and_grayscale_images_are_converted(env: Env) -> None:
    a = json.dumps(env.upload("uploads/di/logo.png", image((400, 400), mode="RGBA")))
    b = json.dumps(env.upload("uploads/di/scan.png", image((400, 200), mode="LA")))
    response, _ = env.thumbnail(a, b)
    assert failed_ids(response) == []
    assert env.size_of("thumbnails/di/logo.jpg") == (256, 256)
    assert env.size_of("thumbnails/di/scan.jpg") == (256, 128)


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGBA"), ("WEBP", "RGBA"), ("JPEG", "RGB")])
def test_each_output_format_is_a_real_image_of_that_format(env: Env, fmt: str, mode: str) -> None:
    thumb = env.thumbnailer.make_thumbnail(image((500, 100), mode="RGBA"), max_width=100, max_height=100,
                                           image_format=fmt)
    with Image.open(io.BytesIO(thumb.data)) as t:
        assert (t.format, t.size, t.mode) == (fmt, (100, 20), mode)
    assert (thumb.width, thumb.height, thumb.source_format) == (100, 20, "PNG")


def test_a_redelivered_notification_writes_nothing_more(env: Env) -> None:
    body = json.dumps(env.upload("uploads/ed/a.png", image((300, 300))))
    for _ in range(2):
        response, _ = env.thumbnail(body)
        assert failed_ids(response) == []
    response, _ = env.thumbnail(body, body)
    assert failed_ids(response) == []
    assert env.thumbnails() == {"thumbnails/ed/a.jpg": 1}


@pytest.mark.parametrize(("key", "body"), [
    ("uploads/fay/notes.png", b"this is not an image at all"),
    ("uploads/fay/broken.png", image((640, 480))[:200]),  # truncated
    ("uploads/fay/empty.png", b""),
    ("uploads/avatar.png", None),  # no user id segment
    ("uploads/f@y!/a.png", None),  # not a valid user id
])
def test_a_bad_upload_fails_alone_and_writes_nothing(env: Env, key: str, body: bytes | None) -> None:
    good = json.dumps(env.upload("uploads/gus/ok.png", image((100, 100))))
    bad = json.dumps(env.upload(key, image((100, 100)) if body is None else body))
    response, (_, bad_id) = env.thumbnail(good, bad)
    assert failed_ids(response) == [bad_id]
    assert env.thumbnails() == {"thumbnails/gus/ok.jpg": 1}
    response, _ = env.thumbnail(bad)  # the failure is not remembered: a retry tries again
    assert len(failed_ids(response)) == 1


def test_folder_markers_are_skipped(env: Env) -> None:
    response, _ = env.thumbnail(json.dumps(env.upload("uploads/fay/", b"")))
    assert failed_ids(response) == []
    assert env.thumbnails() == {}


def test_an_image_with_too_many_pixels_is_refused_before_decoding(env: Env, monkeypatch) -> None:
    monkeypatch.setitem(env.thumbnailer.make_thumbnail.__globals__, "MAX_PIXELS", 100 * 100)
    response, (record_id,) = env.thumbnail(json.dumps(env.upload("uploads/hal/big.png", image((101, 100)))))
    assert failed_ids(response) == [record_id]
    assert env.thumbnails() == {}


@pytest.mark.parametrize("body", [
    "not json",
    json.dumps({"Records": []}),
    json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}),
])
def test_a_body_that_is_not_an_s3_notification_fails_alone(env: Env, body: str) -> None:
    good = json.dumps(env.upload("uploads/ivy/ok.png", image((100, 100))))
    response, (_, bad_id) = env.thumbnail(good, body)
    assert failed_ids(response) == [bad_id]
    assert list(env.thumbnails()) == ["thumbnails/ivy/ok.jpg"]


def test_the_s3_test_event_is_a_no_op_for_both_handlers(env: Env) -> None:
    for run in (env.thumbnail, env.update):
        response, _ = run(json.dumps(TEST_EVENT))
        assert failed_ids(response) == []
    assert env.thumbnails() == {}
    assert env.users() == 0


# -- user updater -----------------------------------------------------------------------------------


def _thumbnail_event(env: Env, user_id: str, name: str = "avatar.jpg", *, at: str = "2026-11-23T12:00:00.000Z",
                     metadata: dict[str, str] | None = None) -> str:
    key = f"thumbnails/{user_id}/{name}"
    meta = {"user-id": user_id, "width": "256", "height": "192"} if metadata is None else metadata
    put = env.s3.put_object(Bucket=THUMBS, Key=key, Body=image((256, 192), "JPEG"), Metadata=meta)
    return json.dumps(notification(THUMBS, key, etag=put["ETag"].strip('"'), event_time=at))


def test_a_thumbnail_event_points_the_user_at_it(env: Env) -> None:
    response, _ = env.update(_thumbnail_event(env, "ana"))
    assert response == {"batchItemFailures": []}
    assert env.user("ana") == {
        "user_id": "ana", "thumbnail_key": "thumbnails/ana/avatar.jpg", "thumbnail_bucket": THUMBS,
        "thumbnail_width": 256, "thumbnail_height": 192, "thumbnail_updated_at": "2026-11-23T12:00:00.000Z",
    }


def test_the_rest_of_the_user_record_is_kept(env: Env) -> None:
    env.ddb.put_item(TableName=USERS, Item={"user_id": {"S": "bo"}, "name": {"S": "Bo"}, "plan": {"S": "pro"}})
    env.update(_thumbnail_event(env, "bo"))
    user = env.user("bo")
    assert (user["name"], user["plan"], user["thumbnail_key"]) == ("Bo", "pro", "thumbnails/bo/avatar.jpg")


def test_an_older_or_redelivered_event_never_replaces_a_newer_thumbnail(env: Env) -> None:
    older = _thumbnail_event(env, "cy", "first.jpg", at="2026-11-23T12:00:00.000Z")
    newer = _thumbnail_event(env, "cy", "second.jpg", at="2026-11-23T12:00:05.000Z")
    response, _ = env.update(newer)
    assert failed_ids(response) == []
    response, _ = env.update(older, newer, older)  # late and duplicate deliveries
    assert failed_ids(response) == []
    user = env.user("cy")
    assert (user["thumbnail_key"], user["thumbnail_updated_at"]) == (
        "thumbnails/cy/second.jpg", "2026-11-23T12:00:05.000Z"
    )
    assert env.users() == 1


def test_a_thumbnail_deleted_meanwhile_changes_nothing(env: Env) -> None:
    body = _thumbnail_event(env, "di")
    for v in env.s3.list_object_versions(Bucket=THUMBS)["Versions"]:
        env.s3.delete_object(Bucket=THUMBS, Key=v["Key"], VersionId=v["VersionId"])
    response, _ = env.update(body)
    assert failed_ids(response) == []
    assert env.users() == 0


def test_a_thumbnail_without_size_metadata_still_updates_the_key(env: Env) -> None:
    env.update(_thumbnail_event(env, "ed", metadata={}))
    user = env.user("ed")
    assert user["thumbnail_key"] == "thumbnails/ed/avatar.jpg"
    assert "thumbnail_width" not in user


@pytest.mark.parametrize("body", [
    "{}",
    "not json",
    json.dumps(notification(THUMBS, "thumbnails/no-user.jpg")),
    json.dumps(notification(THUMBS, "elsewhere/fay/a.jpg")),
], ids=["empty", "not-json", "no-user-key", "outside-the-prefix"])
def test_a_bad_update_fails_alone_and_writes_nothing(env: Env, body: str) -> None:
    good = _thumbnail_event(env, "gus")
    response, (_, bad_id) = env.update(good, body)
    assert failed_ids(response) == [bad_id]
    assert env.users() == 1 and env.user("gus") is not None


# -- the chain, by hand: upload → thumbnail → its event → user --------------------------------------


def test_the_thumbnail_written_is_the_one_the_user_points_at(env: Env) -> None:
    env.thumbnail(json.dumps(env.upload("uploads/hal/me.webp", image((1000, 500), "WEBP"))))
    (key,) = env.thumbnails()
    put_etag = env.s3.head_object(Bucket=THUMBS, Key=key)["ETag"].strip('"')
    response, _ = env.update(json.dumps(notification(THUMBS, key, etag=put_etag)))
    assert failed_ids(response) == []
    user = env.user("hal")
    assert (user["thumbnail_key"], user["thumbnail_width"], user["thumbnail_height"]) == (key, 256, 128)
    assert env.size_of(key) == (256, 128)
