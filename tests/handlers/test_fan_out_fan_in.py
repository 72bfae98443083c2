"""Rung 4 for CATALOG 6 FanOutFanIn: the rendition workers and the fan-in against moto, on real image bytes.

Workers resize with Pillow and write ``<upload>/<rendition>.<ext>``; the sizes are read back from
the written bytes. The fan-in registers uploads and marks a job ready only when every part of the
current upload exists. Bad input (malformed bodies, non-images, a source too small for a rendition
that must not upscale) fails only its own record and writes nothing.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from tests import support
from tests.support import failed_ids, load_handler

INPUT = "dam-uploads"
OUTPUT = "dam-renditions"
JOBS = "dam-jobs"
PARTS = "thumbnail.jpg,medium.jpg,large.jpg"
EVENTS = Path(__file__).parent / "events" / "fan_out_fan_in"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:FanOutFanInDemo-AssetsThumbnailQueue"


@dataclass
class Context:
    function_name: str = "FanOutFanInDemo-AssetsWorker"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:FanOutFanInDemo-AssetsWorker"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000000"


# --- events and images ----------------------------------------------------------------------------


def s3_event(bucket: str, key: str, etag: str, size: int = 1234) -> dict[str, Any]:
    """S3's object-created notification, as AWS documents it, for one object."""
    event = copy.deepcopy(json.loads((EVENTS / "s3_object_created.json").read_text()))
    record = event["Records"][0]["s3"]
    record["bucket"]["name"], record["bucket"]["arn"] = bucket, f"arn:aws:s3:::{bucket}"
    record["object"].update(key=quote_plus(key, safe="/"), eTag=etag, size=size)  # S3 keeps "/" as is
    return event


def s3_test_event(bucket: str) -> dict[str, Any]:
    event = json.loads((EVENTS / "s3_test_event.json").read_text())
    event["Bucket"] = bucket
    return event


def sqs_event(*bodies: str) -> dict[str, Any]:
    return support.sqs_event(*bodies, queue_arn=QUEUE_ARN)


def image_bytes(width: int, height: int, *, mode: str = "RGB", fmt: str = "JPEG", exif_orientation: int = 0) -> bytes:
    image = Image.new(mode, (width, height), (200, 80, 40, 128) if mode == "RGBA" else (200, 80, 40))
    out = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[SimpleNamespace]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=INPUT)
        s3.create_bucket(Bucket=OUTPUT)
        s3.put_bucket_versioning(Bucket=OUTPUT, VersioningConfiguration={"Status": "Enabled"})  # as core.bucket
        jobs = boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName=JOBS, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        )
        yield SimpleNamespace(s3=s3, jobs=jobs)


def worker(name: str, width: int, *, fmt: str = "JPEG", upscale: bool = True) -> ModuleType:
    return load_handler("fan_out_fan_in", "workers", env={
        "OUTPUT_BUCKET": OUTPUT, "RENDITION_NAME": name, "RENDITION_WIDTH": str(width),
        "RENDITION_FORMAT": fmt, "ALLOW_UPSCALE": "true" if upscale else "false",
    })


def fan_in() -> ModuleType:
    return load_handler("fan_out_fan_in", "fan_in", env={
        "INPUT_BUCKET": INPUT, "OUTPUT_BUCKET": OUTPUT, "JOBS_TABLE": JOBS, "PARTS": PARTS,
    })


def upload(aws: SimpleNamespace, key: str, body: bytes) -> dict[str, Any]:
    """Put an upload and return the notification S3 would send for it."""
    etag = aws.s3.put_object(Bucket=INPUT, Key=key, Body=body)["ETag"].strip('"')
    return s3_event(INPUT, key, etag, len(body))


def output_keys(aws: SimpleNamespace) -> list[str]:
    return sorted(o["Key"] for o in aws.s3.list_objects_v2(Bucket=OUTPUT).get("Contents", []))


def size_of(aws: SimpleNamespace, key: str) -> tuple[str, tuple[int, int], str]:
    """(Pillow format, pixel size, content type) of an object in the renditions bucket."""
    got = aws.s3.get_object(Bucket=OUTPUT, Key=key)
    with Image.open(io.BytesIO(got["Body"].read())) as image:
        return image.format, image.size, got["ContentType"]


def job(aws: SimpleNamespace, key: str) -> dict[str, Any] | None:
    return aws.jobs.get_item(Key={"job_id": key}, ConsistentRead=True).get("Item")


def render_all(aws: SimpleNamespace, event: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    """Run the demo's workers named ``names`` on ``event``; return the renditions' notifications."""
    widths = {"thumbnail": 160, "medium": 640, "large": 1280}
    notifications = []
    for name in names:
        response = worker(name, widths[name], upscale=name != "large").handler(
            sqs_event(json.dumps(event)), Context()
        )
        assert response == {"batchItemFailures": []}, name
        key = f"{unquote_plus(event['Records'][0]['s3']['object']['key'])}/{name}.jpg"
        head = aws.s3.head_object(Bucket=OUTPUT, Key=key)
        notifications.append(s3_event(OUTPUT, key, head["ETag"].strip('"')))
    return notifications


# --- workers --------------------------------------------------------------------------------------


def test_worker_writes_its_rendition_at_its_width_keeping_the_aspect_ratio(aws) -> None:
    event = upload(aws, "photos/cat.jpg", image_bytes(2000, 1500))
    response = worker("thumbnail", 160).handler(sqs_event(json.dumps(event)), Context())
    assert response == {"batchItemFailures": []}
    assert output_keys(aws) == ["photos/cat.jpg/thumbnail.jpg"]
    assert size_of(aws, "photos/cat.jpg/thumbnail.jpg") == ("JPEG", (160, 120), "image/jpeg")
    meta = aws.s3.head_object(Bucket=OUTPUT, Key="photos/cat.jpg/thumbnail.jpg")["Metadata"]
    assert meta == {"source-etag": event["Records"][0]["s3"]["object"]["eTag"], "rendition": "thumbnail",
                    "width": "160", "height": "120"}


def test_transparent_png_becomes_an_rgb_jpeg(aws) -> None:
    event = upload(aws, "logo.png", image_bytes(800, 400, mode="RGBA", fmt="PNG"))
    assert worker("medium", 640).handler(sqs_event(json.dumps(event)), Context()) == {"batchItemFailures": []}
    assert size_of(aws, "logo.png/medium.jpg") == ("JPEG", (640, 320), "image/jpeg")


@pytest.mark.parametrize(("fmt", "ext", "content_type"), [("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")])
def test_other_formats_are_encoded_as_configured(aws, fmt: str, ext: str, content_type: str) -> None:
    event = upload(aws, "a.jpg", image_bytes(1000, 500))
    assert worker("web", 300, fmt=fmt).handler(sqs_event(json.dumps(event)), Context()) == {"batchItemFailures": []}
    assert size_of(aws, f"a.jpg/web.{ext}") == (fmt, (300, 150), content_type)


def test_exif_orientation_is_applied_before_resizing(aws) -> None:
    # A phone photo stored landscape (300x200) with "rotate 90" in its EXIF is a portrait picture.
    event = upload(aws, "phone.jpg", image_bytes(300, 200, exif_orientation=6))
    assert worker("thumbnail", 160).handler(sqs_event(json.dumps(event)), Context()) == {"batchItemFailures": []}
    assert size_of(aws, "phone.jpg/thumbnail.jpg")[1] == (160, 240)


def test_a_rendition_that_must_not_upscale_fails_a_small_source_and_writes_nothing(aws) -> None:
    event = upload(aws, "small.jpg", image_bytes(800, 600))
    evt = sqs_event(json.dumps(event))
    assert failed_ids(worker("large", 1280, upscale=False).handler(evt, Context())) == [evt["Records"][0]["messageId"]]
    assert output_keys(aws) == []
    # the same source is enlarged by a rendition that allows it
    assert worker("large", 1280, upscale=True).handler(sqs_event(json.dumps(event)), Context()) == {
        "batchItemFailures": []}
    assert size_of(aws, "small.jpg/large.jpg")[1] == (1280, 960)


def test_a_corrupt_upload_fails_alone_and_the_rest_of_the_batch_is_rendered(aws) -> None:
    good = upload(aws, "good.jpg", image_bytes(640, 480))
    corrupt = upload(aws, "corrupt.jpg", b"\xff\xd8\xff\xe0 this is not really a JPEG")
    truncated = upload(aws, "truncated.jpg", image_bytes(640, 480)[:300])
    other = upload(aws, "other.png", image_bytes(320, 320, fmt="PNG"))
    evt = sqs_event(*(json.dumps(e) for e in (good, corrupt, truncated, other)))
    response = worker("thumbnail", 160).handler(evt, Context())
    assert failed_ids(response) == [evt["Records"][1]["messageId"], evt["Records"][2]["messageId"]]
    assert output_keys(aws) == ["good.jpg/thumbnail.jpg", "other.png/thumbnail.jpg"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{not json", "malformed JSON"),
        ("", "empty body"),
        (json.dumps({"hello": "world"}), "not an S3 notification"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": INPUT}}}]}),
         "no object"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put",
                                  "s3": {"bucket": {"name": INPUT}, "object": {"key": "a.jpg"}}}]}), "no eTag"),
        (json.dumps(["Records"]), "not an object"),
    ],
)
def test_a_bad_body_fails_alone_and_writes_nothing(aws, body: str, why: str) -> None:
    good = upload(aws, "good.jpg", image_bytes(640, 480))
    evt = sqs_event(body, json.dumps(good))
    response = worker("thumbnail", 160).handler(evt, Context())
    assert failed_ids(response) == [evt["Records"][0]["messageId"]], why
    assert output_keys(aws) == ["good.jpg/thumbnail.jpg"]


def test_the_s3_test_event_is_acknowledged_and_writes_nothing(aws) -> None:
    response = worker("thumbnail", 160).handler(sqs_event(json.dumps(s3_test_event(INPUT))), Context())
    assert response == {"batchItemFailures": []}
    assert output_keys(aws) == []


def test_an_upload_replaced_or_deleted_since_its_notification_is_skipped(aws) -> None:
    old = upload(aws, "photo.jpg", image_bytes(640, 480))
    upload(aws, "photo.jpg", image_bytes(320, 240))  # replaced: its own notification renders it
    gone = upload(aws, "gone.jpg", image_bytes(640, 480))
    aws.s3.delete_object(Bucket=INPUT, Key="gone.jpg")
    response = worker("thumbnail", 160).handler(sqs_event(json.dumps(old), json.dumps(gone)), Context())
    assert response == {"batchItemFailures": []}
    assert output_keys(aws) == []


def versions(aws: SimpleNamespace) -> list[str]:
    return sorted(v["Key"] for v in aws.s3.list_object_versions(Bucket=OUTPUT).get("Versions", []))


def test_a_redelivered_notification_writes_nothing_twice(aws) -> None:
    event = upload(aws, "photo.jpg", image_bytes(1000, 800))
    module = worker("medium", 640)
    module.handler(sqs_event(json.dumps(event)), Context())
    assert module.handler(sqs_event(json.dumps(event), json.dumps(event)), Context()) == {"batchItemFailures": []}
    assert versions(aws) == ["photo.jpg/medium.jpg"]
    # a new version of the upload is rendered again: the existing part belongs to the old one
    newer = upload(aws, "photo.jpg", image_bytes(2000, 800))
    module.handler(sqs_event(json.dumps(newer)), Context())
    assert versions(aws) == ["photo.jpg/medium.jpg", "photo.jpg/medium.jpg"]
    assert size_of(aws, "photo.jpg/medium.jpg")[1] == (640, 256)


def test_url_encoded_keys_are_decoded(aws) -> None:
    event = upload(aws, "albums/summer holiday/été.jpg", image_bytes(400, 400))
    assert "summer+holiday" in event["Records"][0]["s3"]["object"]["key"]
    assert worker("thumbnail", 160).handler(sqs_event(json.dumps(event)), Context()) == {"batchItemFailures": []}
    assert output_keys(aws) == ["albums/summer holiday/été.jpg/thumbnail.jpg"]


# --- fan-in ---------------------------------------------------------------------------------------


def test_an_upload_registers_a_processing_job_with_its_expected_parts(aws) -> None:
    event = upload(aws, "photos/cat.jpg", image_bytes(2000, 1500))
    assert fan_in().handler(sqs_event(json.dumps(event)), Context()) == {"batchItemFailures": []}
    item = job(aws, "photos/cat.jpg")
    assert item is not None
    assert item["status"] == "processing"
    assert item["expected"] == ["thumbnail", "medium", "large"]
    assert item["parts"] == {}
    assert item["source_etag"] == event["Records"][0]["s3"]["object"]["eTag"]


def test_the_job_goes_ready_only_when_the_last_part_lands(aws) -> None:
    event = upload(aws, "photos/cat.jpg", image_bytes(2000, 1500))
    module = fan_in()
    module.handler(sqs_event(json.dumps(event)), Context())
    thumbnail, medium, large = render_all(aws, event, "thumbnail", "medium", "large")
    # the fan-in sees the bucket as it is: pretend only two parts had landed when it ran
    large_key = "photos/cat.jpg/large.jpg"
    aws.s3.copy_object(Bucket=OUTPUT, Key="held/large.jpg", CopySource={"Bucket": OUTPUT, "Key": large_key})
    aws.s3.delete_object(Bucket=OUTPUT, Key=large_key)
    assert module.handler(sqs_event(json.dumps(thumbnail), json.dumps(medium)), Context()) == {"batchItemFailures": []}
    item = job(aws, "photos/cat.jpg")
    assert item["status"] == "processing"
    assert sorted(item["parts"]) == ["medium", "thumbnail"]
    assert "ready_at" not in item

    aws.s3.copy_object(Bucket=OUTPUT, Key=large_key, CopySource={"Bucket": OUTPUT, "Key": "held/large.jpg"},
                       MetadataDirective="COPY")
    assert module.handler(sqs_event(json.dumps(large)), Context()) == {"batchItemFailures": []}
    item = job(aws, "photos/cat.jpg")
    assert item["status"] == "ready"
    assert {name: (int(p["width"]), int(p["height"])) for name, p in item["parts"].items()} == {
        "thumbnail": (160, 120), "medium": (640, 480), "large": (1280, 960),
    }
    assert item["parts"]["large"]["key"] == "photos/cat.jpg/large.jpg"


def test_a_failed_worker_leaves_the_job_not_ready(aws) -> None:
    event = upload(aws, "small.jpg", image_bytes(800, 600))
    module = fan_in()
    module.handler(sqs_event(json.dumps(event)), Context())
    notifications = render_all(aws, event, "thumbnail", "medium")
    failed = worker("large", 1280, upscale=False).handler(sqs_event(json.dumps(event)), Context())
    assert len(failed["batchItemFailures"]) == 1
    assert module.handler(sqs_event(*(json.dumps(n) for n in notifications)), Context()) == {"batchItemFailures": []}
    item = job(aws, "small.jpg")
    assert item["status"] == "processing"
    assert sorted(item["parts"]) == ["medium", "thumbnail"]


def test_order_does_not_matter_and_a_late_registration_does_not_undo_ready(aws) -> None:
    event = upload(aws, "late.jpg", image_bytes(1600, 1600))
    notifications = render_all(aws, event, "large", "thumbnail", "medium")
    module = fan_in()
    for n in notifications:
        module.handler(sqs_event(json.dumps(n)), Context())
    assert job(aws, "late.jpg")["status"] == "ready"
    module.handler(sqs_event(json.dumps(event)), Context())  # the upload's own notification, last
    assert job(aws, "late.jpg")["status"] == "ready"


def test_a_duplicate_notification_changes_nothing(aws) -> None:
    event = upload(aws, "dup.jpg", image_bytes(1600, 1200))
    notifications = render_all(aws, event, "thumbnail", "medium", "large")
    module = fan_in()
    module.handler(sqs_event(*(json.dumps(n) for n in notifications)), Context())
    before = job(aws, "dup.jpg")
    assert before["status"] == "ready"
    module.handler(sqs_event(json.dumps(notifications[0]), json.dumps(event)), Context())
    assert job(aws, "dup.jpg") == before


def test_a_ready_job_is_not_put_back_to_processing_by_a_late_check(aws) -> None:
    event = upload(aws, "race.jpg", image_bytes(1600, 1200))
    notifications = render_all(aws, event, "thumbnail", "medium", "large")
    module = fan_in()
    module.handler(sqs_event(json.dumps(notifications[-1])), Context())
    assert job(aws, "race.jpg")["status"] == "ready"
    # a slower check that saw fewer parts writes after the ready one
    aws.s3.delete_object(Bucket=OUTPUT, Key="race.jpg/medium.jpg")
    module.handler(sqs_event(json.dumps(notifications[0])), Context())
    assert job(aws, "race.jpg")["status"] == "ready"


def test_parts_of_a_replaced_upload_do_not_count_for_the_new_version(aws) -> None:
    first = upload(aws, "asset.jpg", image_bytes(1600, 1200))
    module = fan_in()
    module.handler(sqs_event(*(json.dumps(n) for n in render_all(aws, first, "thumbnail", "medium", "large"))),
                   Context())
    assert job(aws, "asset.jpg")["status"] == "ready"

    second = upload(aws, "asset.jpg", image_bytes(2400, 1200))
    module.handler(sqs_event(json.dumps(second)), Context())
    item = job(aws, "asset.jpg")
    assert (item["status"], item["parts"]) == ("processing", {})
    [thumbnail] = render_all(aws, second, "thumbnail")
    module.handler(sqs_event(json.dumps(thumbnail)), Context())
    item = job(aws, "asset.jpg")
    assert item["status"] == "processing"  # medium and large are still the first upload's
    assert list(item["parts"]) == ["thumbnail"]
    assert (int(item["parts"]["thumbnail"]["width"]), int(item["parts"]["thumbnail"]["height"])) == (160, 80)


def test_objects_that_are_not_parts_are_ignored(aws) -> None:
    upload(aws, "x.jpg", image_bytes(100, 100))
    aws.s3.put_object(Bucket=OUTPUT, Key="x.jpg/notes.txt", Body=b"hi")
    aws.s3.put_object(Bucket=OUTPUT, Key="thumbnail.jpg", Body=b"at the root")
    evt = sqs_event(json.dumps(s3_event(OUTPUT, "x.jpg/notes.txt", "e1")),
                    json.dumps(s3_event(OUTPUT, "thumbnail.jpg", "e2")))
    assert fan_in().handler(evt, Context()) == {"batchItemFailures": []}
    assert aws.jobs.scan()["Items"] == []


def test_a_rendition_whose_upload_was_deleted_is_ignored(aws) -> None:
    event = upload(aws, "deleted.jpg", image_bytes(1600, 1200))
    notifications = render_all(aws, event, "thumbnail", "medium", "large")
    aws.s3.delete_object(Bucket=INPUT, Key="deleted.jpg")
    assert fan_in().handler(sqs_event(json.dumps(notifications[-1]), json.dumps(event)), Context()) == {
        "batchItemFailures": []}
    assert aws.jobs.scan()["Items"] == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{not json", "malformed JSON"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "missing s3"),
        (json.dumps(s3_event("someone-elses-bucket", "a.jpg", "e")), "unexpected bucket"),
    ],
)
def test_fan_in_fails_a_bad_record_alone_and_writes_nothing_for_it(aws, body: str, why: str) -> None:
    event = upload(aws, "ok.jpg", image_bytes(100, 100))
    evt = sqs_event(body, json.dumps(event), json.dumps(s3_test_event(OUTPUT)))
    response = fan_in().handler(evt, Context())
    assert failed_ids(response) == [evt["Records"][0]["messageId"]], why
    assert [i["job_id"] for i in aws.jobs.scan()["Items"]] == ["ok.jpg"]
