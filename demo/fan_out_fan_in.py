"""FanOutFanInDemo: the DAM backend — an uploaded photo becomes thumbnail, medium and large renditions,
and its job goes ready once all three exist.

The large rendition refuses to upscale (a print-size image must come from a large enough source),
so a small upload shows the fault path: two renditions, the third event in the large worker's DLQ,
and a job that stays ``processing``.
"""

from __future__ import annotations

import io
import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns.fan_out_fan_in import FanOutFanIn, Rendition

#: Klayers' public Pillow layer for python3.14 on arm64 (account 770693421928 publishes it in every
#: commercial region). Versions move: override with ``cdk deploy -c pillow_layer_arn=<arn>`` — see
#: https://api.klayers.cloud/api/v2/p3.14/layers/latest/<region>/json for the current one.
KLAYERS_PILLOW = "arn:{partition}:lambda:{region}:770693421928:layer:Klayers-p314-arm64-Pillow:1"
#: The local cloud cannot download a published layer: the venv's Pillow stands in for this one.
LOCAL_LAYER_STAND_INS = ("770693421928:layer:Klayers-p314-arm64-Pillow",)

RENDITIONS = (
    Rendition(name="thumbnail", width=160),
    Rendition(name="medium", width=640),
    Rendition(name="large", width=1280, allow_upscale=False),
)


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(scope, stack_id, description="CATALOG 6 FanOutFanIn: uploads fanned out to rendition workers, "
                                               "fanned in to a ready job")
    arn = stack.node.try_get_context("pillow_layer_arn") or KLAYERS_PILLOW.format(
        partition=stack.partition, region=stack.region
    )
    pattern = FanOutFanIn(
        stack, "Assets",
        renditions=RENDITIONS,
        pillow_layer=lambda_.LayerVersion.from_layer_version_arn(stack, "Pillow", arn),
        jobs_table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "InputBucketName", value=pattern.input_bucket.bucket_name)
    CfnOutput(stack, "OutputBucketName", value=pattern.output_bucket.bucket_name)
    CfnOutput(stack, "JobsTableName", value=pattern.jobs_table.table_name)
    CfnOutput(stack, "FanInDeadLetterQueueUrl", value=pattern.fan_in_dead_letter_queue.queue_url)
    for rendition in RENDITIONS:
        dlq = pattern.worker_dead_letter_queues[rendition.name]
        CfnOutput(stack, f"{rendition.construct_name}DeadLetterQueueUrl", value=dlq.queue_url)
    return stack


def photo(width: int, height: int) -> bytes:
    """A real JPEG with some structure (a gradient), as a camera upload would be."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    image.putdata([(x * 255 // width, y * 255 // height, 128) for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def rendition_sizes(ctx: DriveContext, job_id: str) -> dict[str, tuple[int, int]]:
    """The pixel size of each rendition of ``job_id`` in the renditions bucket, read from the bytes."""
    from PIL import Image

    s3 = ctx.client("s3")
    sizes = {}
    for rendition in RENDITIONS:
        body = s3.get_object(Bucket=ctx.outputs["OutputBucketName"], Key=f"{job_id}/{rendition.file_name}")["Body"]
        with Image.open(io.BytesIO(body.read())) as image:
            sizes[rendition.name] = image.size
    return sizes


def drive(ctx: DriveContext) -> DriveResult:
    """Upload one 2000x1500 photo: the job goes ready with three renditions of the right widths."""
    key = f"uploads/demo-{uuid.uuid4().hex[:8]}.jpg"
    ctx.client("s3").put_object(
        Bucket=ctx.outputs["InputBucketName"], Key=key, Body=photo(2000, 1500), ContentType="image/jpeg"
    )
    ddb = ctx.client("dynamodb")

    def ready() -> dict | None:
        item = ddb.get_item(TableName=ctx.outputs["JobsTableName"], Key={"job_id": {"S": key}}).get("Item")
        return item if item and item["status"]["S"] == "ready" else None

    job = ctx.wait_for(ready, timeout=60)
    if not job:
        return DriveResult(sent=f"upload {key} (2000x1500)", outcome="job not ready", ok=False)
    sizes = rendition_sizes(ctx, key)
    expected = {"thumbnail": (160, 120), "medium": (640, 480), "large": (1280, 960)}
    return DriveResult(
        sent=f"upload {key} (2000x1500)",
        outcome="ready: " + ", ".join(f"{name} {w}x{h}" for name, (w, h) in sizes.items()),
        ok=sizes == expected,
    )
