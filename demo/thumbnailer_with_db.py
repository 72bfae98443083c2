"""ThumbnailerWithDbDemo: avatars uploaded as ``uploads/<user_id>/<file>`` become 128x128 thumbnails.

The thumbnailer gets Pillow from a layer built at synth without Docker (``core.pillow_layer``: pip
installs the python3.14/arm64 wheels, cached by their inputs), so ``cdk deploy`` to AWS works as it
does locally. ``cdk deploy -c pillow_layer_arn=arn:aws:lambda:...`` uses a layer of yours instead.
"""

from __future__ import annotations

import io
import uuid

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns import core
from patterns.thumbnailer_with_db import ThumbnailerWithDb

MAX_SIZE = 128


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 12 ThumbnailerWithDb: avatar uploads thumbnailed, users table points at the newest",
    )
    layer_arn = stack.node.try_get_context("pillow_layer_arn")
    pattern = ThumbnailerWithDb(
        stack, "Avatars",
        max_width=MAX_SIZE,
        max_height=MAX_SIZE,
        users_table_props={"removal_policy": RemovalPolicy.DESTROY},
        pillow_layer=(
            lambda_.LayerVersion.from_layer_version_arn(stack, "Pillow", layer_arn) if layer_arn
            else core.pillow_layer(stack)
        ),
    )
    pattern.idempotency_table.apply_removal_policy(RemovalPolicy.DESTROY)
    CfnOutput(stack, "UploadsBucketName", value=pattern.uploads_bucket.bucket_name)
    CfnOutput(stack, "ThumbnailsBucketName", value=pattern.thumbnails_bucket.bucket_name)
    CfnOutput(stack, "UsersTableName", value=pattern.users_table.table_name)
    CfnOutput(stack, "ThumbnailQueueUrl", value=pattern.thumbnail_queue.queue_url)
    CfnOutput(stack, "ThumbnailDeadLetterQueueUrl", value=pattern.thumbnail_dead_letter_queue.queue_url)
    CfnOutput(stack, "UpdateDeadLetterQueueUrl", value=pattern.update_dead_letter_queue.queue_url)
    return stack


def sample_image(width: int = 640, height: int = 480) -> bytes:
    """A real PNG photo stand-in: a gradient, so the thumbnail has content to resample."""
    from PIL import Image

    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def drive(ctx: DriveContext) -> DriveResult:
    """Upload one 640x480 avatar: the user's record points at a thumbnail no larger than 128x128."""
    from PIL import Image

    user_id = f"demo-{uuid.uuid4().hex[:8]}"
    key = f"uploads/{user_id}/avatar.png"
    s3, ddb = ctx.client("s3"), ctx.client("dynamodb")
    s3.put_object(Bucket=ctx.outputs["UploadsBucketName"], Key=key, Body=sample_image(), ContentType="image/png")

    def pointed() -> dict | None:
        item = ddb.get_item(TableName=ctx.outputs["UsersTableName"], Key={"user_id": {"S": user_id}}).get("Item")
        return item if item and "thumbnail_key" in item else None

    item = ctx.wait_for(pointed, timeout=20)
    if item is None:
        return DriveResult(sent=f"640x480 PNG {key}", outcome="user record not updated", ok=False)
    thumb_key = item["thumbnail_key"]["S"]
    body = s3.get_object(Bucket=ctx.outputs["ThumbnailsBucketName"], Key=thumb_key)["Body"].read()
    with Image.open(io.BytesIO(body)) as thumb:
        size = thumb.size
    return DriveResult(
        sent=f"640x480 PNG {key}",
        outcome=f"{user_id} -> {thumb_key} ({size[0]}x{size[1]})",
        ok=max(size) <= MAX_SIZE and size == (MAX_SIZE, MAX_SIZE * 480 // 640),
    )
