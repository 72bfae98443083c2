"""Rung 1 for CATALOG 12 ThumbnailerWithDb: two bucket → queue → worker stages chained through the
thumbnails bucket, least privilege for each worker, every validation error, every existing_* path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from patterns import core
from patterns.thumbnailer_with_db import ThumbnailerWithDb
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, objects, synth

UPLOADS = "shared-uploads"
THUMBS = "shared-thumbnails"
USERS = "shared-users"
PILLOW_ARN = "arn:aws:lambda:us-east-1:111122223333:layer:pillow:3"
INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {'batchItemFailures': []}\n")


@dataclass
class Built(_helpers.Built[ThumbnailerWithDb]):
    role: iam.Role | None = None

    def notification_of(self, bucket: Any) -> dict[str, Any]:
        name = self.ref(bucket) if isinstance(bucket, s3.Bucket) else bucket
        found = [
            r["Properties"] for r in self.resources("Custom::S3BucketNotifications").values()
            if r["Properties"]["BucketName"] == name
        ]
        assert len(found) == 1
        return found[0]


def _rules(config: dict[str, Any]) -> dict[str, str]:
    return {r["Name"]: r["Value"] for r in config["Filter"]["Key"]["FilterRules"]}


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, make: Any = None, **props: Any) -> Built:
        stack = Stack(app, name)
        extra = make(stack) if make else {}
        stacks[name] = Built(stack, ThumbnailerWithDb(stack, "Avatars", **props, **extra))
        return stacks[name]

    add("Default")
    add(
        "Tuned", upload_prefix="in/", thumbnail_prefix="small/", max_width=64, max_height=48, thumbnail_format="PNG",
        batch_size=4, max_receive_count=2, idempotency_ttl=Duration.hours(6),
        thumbnailer_options=core.FunctionOptions(memory_size=2048, timeout=Duration.seconds(60)),
        updater_options=core.FunctionOptions(environment={"EXTRA": "1"}),
        thumbnail_queue_props={"retention_period": Duration.days(1)},
        update_queue_props={"retention_period": Duration.days(2)},
        users_table_props={"deletion_protection": True},
    )
    add("Existing", lambda s: {
        "existing_uploads_bucket": s3.Bucket.from_bucket_name(s, "Up", UPLOADS),
        "existing_thumbnails_bucket": s3.Bucket.from_bucket_name(s, "Th", THUMBS),
        "existing_users_table": ddb.Table.from_table_name(s, "Users", USERS),
    })

    def same(stack: Stack) -> dict[str, Any]:
        bucket = s3.Bucket.from_bucket_name(stack, "Shared", UPLOADS)
        return {"existing_uploads_bucket": bucket, "existing_thumbnails_bucket": bucket}

    add("SameBucket", same)
    add("Layer", lambda s: {"pillow_layer": lambda_.LayerVersion.from_layer_version_arn(s, "Pillow", PILLOW_ARN)})
    add(
        "Swap", thumbnailer_code=INLINE, thumbnailer_handler="index.handler",
        updater_code=INLINE, updater_handler="index.update",
    )
    grants = add("Grants")
    grants.role = iam.Role(grants.stack, "Client", assumed_by=iam.AccountRootPrincipal())
    grants.pattern.grant_upload(grants.role)
    grants.pattern.grant_read_thumbnails(grants.role)
    grants.pattern.grant_read_users(grants.role)
    return synth(stacks)


# --- resources and the two stages ---------------------------------------------------------------


def test_creates_two_stages_with_queue_pairs_functions_and_alarms(built) -> None:
    b = built["Default"]
    t = b.template
    t.resource_count_is("AWS::S3::Bucket", 3)  # uploads, thumbnails, access logs
    t.resource_count_is("AWS::SQS::Queue", 4)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
    t.resource_count_is("Custom::S3BucketNotifications", 2)
    t.resource_count_is("AWS::DynamoDB::Table", 2)  # users, idempotency
    t.resource_count_is("AWS::Lambda::Function", 3)  # thumbnailer, updater, CDK's notifications handler
    t.resource_count_is("AWS::CloudWatch::Alarm", 8)
    assert set(b.pattern.alarms) == {
        "ThumbnailerErrors", "ThumbnailerThrottles", "UserUpdaterErrors", "UserUpdaterThrottles",
        "ThumbnailQueueOldestMessage", "UpdateQueueOldestMessage",
        "ThumbnailDeadLetterQueueDepth", "UpdateDeadLetterQueueDepth",
    }


def test_uploads_notify_the_thumbnail_queue_and_thumbnails_notify_the_update_queue(built) -> None:
    b = built["Default"]
    p = b.pattern
    for bucket, queue, prefix in (
        (p.uploads_bucket, p.thumbnail_queue, "uploads/"), (p.thumbnails_bucket, p.update_queue, "thumbnails/")
    ):
        (config,) = b.notification_of(bucket)["NotificationConfiguration"]["QueueConfigurations"]
        assert config["Events"] == ["s3:ObjectCreated:*"]
        assert config["QueueArn"] == b.arn(queue)
        assert _rules(config) == {"prefix": prefix}
        b.template.has_resource_properties("AWS::SQS::QueuePolicy", {
            "Queues": [b.ref(queue)],
            "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
                "Action": Match.array_with(["sqs:SendMessage"]),
                "Principal": {"Service": "s3.amazonaws.com"},
                "Condition": {"ArnLike": {"aws:SourceArn": b.arn(bucket)}},
            })])},
        })


def test_each_stage_has_its_own_dlq_and_partial_batch_responses(built) -> None:
    for name, receives, visibility_t, visibility_u, batch in (
        ("Default", core.MAX_RECEIVE_COUNT, 180, 60, 10), ("Tuned", 2, 360, 60, 4)
    ):
        b = built[name]
        p = b.pattern
        for queue, dlq, function, visibility in (
            (p.thumbnail_queue, p.thumbnail_dead_letter_queue, p.thumbnailer, visibility_t),
            (p.update_queue, p.update_dead_letter_queue, p.user_updater, visibility_u),
        ):
            props = b.props(queue)
            assert props["RedrivePolicy"] == {"deadLetterTargetArn": b.arn(dlq), "maxReceiveCount": receives}
            assert props["VisibilityTimeout"] == visibility  # 6x the stage's function timeout
            b.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
                "EventSourceArn": b.arn(queue), "FunctionName": b.ref(function),
                "BatchSize": batch, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            })


def test_thumbnailer_gets_more_memory_and_time_than_the_updater(built) -> None:
    b = built["Default"]
    assert (b.props(b.pattern.thumbnailer)["MemorySize"], b.props(b.pattern.thumbnailer)["Timeout"]) == (1024, 30)
    assert (b.props(b.pattern.user_updater)["MemorySize"], b.props(b.pattern.user_updater)["Timeout"]) == (256, 10)
    t = built["Tuned"]
    assert (t.props(t.pattern.thumbnailer)["MemorySize"], t.props(t.pattern.thumbnailer)["Timeout"]) == (2048, 60)


def test_environment_carries_prefixes_size_format_and_tables(built) -> None:
    b = built["Default"]
    p = b.pattern
    assert b.env(p.thumbnailer) == {
        **{k: v for k, v in b.env(p.thumbnailer).items() if k.startswith("POWERTOOLS_")},
        "UPLOAD_PREFIX": "uploads/", "THUMBNAILS_BUCKET": b.ref(p.thumbnails_bucket), "THUMBNAIL_PREFIX": "thumbnails/",
        "MAX_WIDTH": "256", "MAX_HEIGHT": "256", "THUMBNAIL_FORMAT": "JPEG",
        "IDEMPOTENCY_TABLE_NAME": b.ref(p.idempotency_table), "IDEMPOTENCY_TTL_SECONDS": "3600",
    }
    assert b.env(p.user_updater)["USERS_TABLE_NAME"] == b.ref(p.users_table)
    assert b.env(p.user_updater)["THUMBNAIL_PREFIX"] == "thumbnails/"
    assert (b.props(p.thumbnailer)["Handler"], b.props(p.user_updater)["Handler"]) == (
        "thumbnailer.handler", "updater.handler"
    )
    t = built["Tuned"]
    env = t.env(t.pattern.thumbnailer)
    assert (env["UPLOAD_PREFIX"], env["THUMBNAIL_PREFIX"], env["MAX_WIDTH"], env["MAX_HEIGHT"]) == (
        "in/", "small/", "64", "48"
    )
    assert (env["THUMBNAIL_FORMAT"], env["IDEMPOTENCY_TTL_SECONDS"]) == ("PNG", "21600")
    assert t.env(t.pattern.user_updater)["EXTRA"] == "1"


def test_users_table_is_keyed_by_user_id(built) -> None:
    b = built["Default"]
    props = b.props(b.pattern.users_table)
    assert props["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert built["Tuned"].props(built["Tuned"].pattern.users_table)["DeletionProtectionEnabled"] is True


def test_thumbnailer_reads_uploads_and_writes_thumbnails_only(built) -> None:
    b = built["Default"]
    p = b.pattern
    statements = b.statements(p.thumbnailer.role)
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in action_set(s))]
    assert sorted((sorted(action_set(s)), s["Resource"]) for s in s3_statements) == sorted([
        (["s3:GetObject"], objects(b.arn(p.uploads_bucket), "uploads/*")),
        (["s3:PutObject"], objects(b.arn(p.thumbnails_bucket), "thumbnails/*")),
    ], key=str)
    assert not any(s["Resource"] == b.arn(p.users_table) for s in statements)
    (idem,) = [s for s in statements if s["Resource"] == b.arn(p.idempotency_table)]
    assert action_set(idem) == set(core.tables.IDEMPOTENCY_ACTIONS)


def test_updater_reads_thumbnails_and_only_updates_users(built) -> None:
    b = built["Default"]
    p = b.pattern
    statements = b.statements(p.user_updater.role)
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in action_set(s))]
    assert [(sorted(action_set(s)), s["Resource"]) for s in s3_statements] == [
        (["s3:GetObject"], objects(b.arn(p.thumbnails_bucket), "thumbnails/*"))
    ]
    on_tables = [s for s in statements if any(a.startswith("dynamodb:") for a in action_set(s))]
    assert [(action_set(s), s["Resource"]) for s in on_tables] == [({"dynamodb:UpdateItem"}, b.arn(p.users_table))]


def test_queue_props_apply_to_their_own_stage(built) -> None:
    t = built["Tuned"]
    assert t.props(t.pattern.thumbnail_queue)["MessageRetentionPeriod"] == 24 * 3600
    assert t.props(t.pattern.update_queue)["MessageRetentionPeriod"] == 2 * 24 * 3600


def test_grants_cover_uploads_thumbnails_and_user_reads(built) -> None:
    b = built["Grants"]
    p = b.pattern
    statements = b.statements(b.role)
    s3_statements = sorted(
        ((sorted(action_set(s)), s["Resource"]) for s in statements if any(a.startswith("s3:") for a in action_set(s))),
        key=str,
    )
    assert s3_statements == sorted([
        (["s3:PutObject"], objects(b.arn(p.uploads_bucket), "uploads/*")),
        (["s3:GetObject"], objects(b.arn(p.thumbnails_bucket), "thumbnails/*")),
    ], key=str)
    table_actions = {a for s in statements for a in action_set(s) if a.startswith("dynamodb:")}
    assert {"dynamodb:GetItem", "dynamodb:Query"} <= table_actions
    assert not {a for a in table_actions if any(w in a for w in ("Put", "Update", "Delete", "Write"))}
    assert all(
        b.arn(p.users_table) == s["Resource"] or b.arn(p.users_table) in s["Resource"]
        for s in statements if action_set(s) & table_actions
    )


# --- Pillow --------------------------------------------------------------------------------------


def test_pillow_layer_is_added_to_the_thumbnailer_only(built) -> None:
    b = built["Layer"]
    assert PILLOW_ARN in b.props(b.pattern.thumbnailer)["Layers"]
    assert PILLOW_ARN not in b.props(b.pattern.user_updater)["Layers"]
    Annotations.from_stack(b.stack).has_no_warning("*", Match.string_like_regexp(".*pillow_layer.*"))


def test_warns_at_synth_without_a_pillow_layer(built) -> None:
    b = built["Default"]
    assert len(b.props(b.pattern.thumbnailer)["Layers"]) == 1  # Powertools only
    Annotations.from_stack(b.stack).has_warning("/Default/Avatars", Match.string_like_regexp(".*no pillow_layer.*"))


# --- existing resources and handler swap ---------------------------------------------------------


def test_existing_buckets_and_table_are_used_and_nothing_is_created_for_them(built) -> None:
    b = built["Existing"]
    p = b.pattern
    b.template.resource_count_is("AWS::S3::Bucket", 0)
    b.template.resource_count_is("AWS::DynamoDB::Table", 1)  # the idempotency table only
    assert p.access_log_bucket is None
    for name in (UPLOADS, THUMBS):
        assert b.notification_of(name)["Managed"] is False
    assert b.env(p.thumbnailer)["THUMBNAILS_BUCKET"] == THUMBS
    assert b.env(p.user_updater)["USERS_TABLE_NAME"] == USERS
    updates = [s for s in b.statements(p.user_updater.role) if "dynamodb:UpdateItem" in action_set(s)]
    assert len(updates) == 1 and f":table/{USERS}" in str(updates[0]["Resource"])
    reads = [s for s in b.statements(p.thumbnailer.role) if "s3:GetObject" in action_set(s)]
    assert len(reads) == 1 and f":s3:::{UPLOADS}/uploads/*" in str(reads[0]["Resource"])


def test_one_bucket_holds_uploads_and_thumbnails_under_disjoint_prefixes(built) -> None:
    b = built["SameBucket"]
    b.template.resource_count_is("AWS::S3::Bucket", 0)
    b.template.resource_count_is("Custom::S3BucketNotifications", 1)
    configs = b.notification_of(UPLOADS)["NotificationConfiguration"]["QueueConfigurations"]
    assert sorted(_rules(c)["prefix"] for c in configs) == ["thumbnails/", "uploads/"]


def test_handler_code_and_handlers_can_be_swapped(built) -> None:
    b = built["Swap"]
    p = b.pattern
    assert b.props(p.thumbnailer)["Handler"] == "index.handler"
    assert b.props(p.user_updater)["Handler"] == "index.update"
    assert "batchItemFailures" in b.props(p.thumbnailer)["Code"]["ZipFile"]
    b.template.resource_count_is("AWS::SQS::Queue", 4)


# --- validation ----------------------------------------------------------------------------------


def _stack() -> Stack:
    return Stack(new_app(), "Invalid")


def _build(**props: Any) -> ThumbnailerWithDb:
    return ThumbnailerWithDb(_stack(), "Avatars", **props)


@pytest.mark.parametrize("resource", ["uploads_bucket", "thumbnails_bucket"])
def test_fails_if_an_existing_bucket_and_its_props_are_both_given(resource: str) -> None:
    stack = _stack()
    bucket = s3.Bucket.from_bucket_name(stack, "B", "some-bucket")
    with pytest.raises(ValueError, match=f"existing_{resource} and {resource}_props cannot both be set"):
        ThumbnailerWithDb(stack, "A", **{f"existing_{resource}": bucket, f"{resource}_props": {}})


def test_fails_if_existing_users_table_and_users_table_props_are_both_given() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="existing_users_table and users_table_props cannot both be set"):
        ThumbnailerWithDb(
            stack, "A", existing_users_table=ddb.Table.from_table_name(stack, "T", "users"), users_table_props={}
        )


@pytest.mark.parametrize(("props", "name", "given"), [
    ({"upload_prefix": "uploads"}, "upload_prefix", "'uploads'"),
    ({"thumbnail_prefix": "thumbs"}, "thumbnail_prefix", "'thumbs'"),
])
def test_fails_if_a_prefix_does_not_end_with_a_slash(props: dict[str, str], name: str, given: str) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be empty or end with '/' \(given {given}\)"):
        _build(**props)


@pytest.mark.parametrize(("upload_prefix", "thumbnail_prefix"), [
    ("uploads/", "uploads/"), ("", "thumbnails/"), ("uploads/", "uploads/thumbs/"), ("media/", ""),
])
def test_fails_if_thumbnails_could_trigger_the_thumbnailer(upload_prefix: str, thumbnail_prefix: str) -> None:
    stack = _stack()
    bucket = s3.Bucket.from_bucket_name(stack, "B", "one-bucket")
    with pytest.raises(ValueError, match=r"the thumbnails bucket is the same bucket as the uploads bucket .*loop"):
        ThumbnailerWithDb(
            stack, "A", existing_uploads_bucket=bucket, existing_thumbnails_bucket=bucket,
            upload_prefix=upload_prefix, thumbnail_prefix=thumbnail_prefix,
        )


@pytest.mark.parametrize(("props", "message"), [
    ({"max_width": 0}, r"max_width must be between 1 and 4096 \(given 0\)"),
    ({"max_height": 5000}, r"max_height must be between 1 and 4096 \(given 5000\)"),
    ({"thumbnail_format": "GIF"}, r"thumbnail_format must be one of JPEG, PNG, WEBP \(given 'GIF'\)"),
    ({"idempotency_ttl": Duration.seconds(10)}, r"idempotency_ttl \(seconds\) must be between 60"),
    ({"max_receive_count": 0}, r"max_receive_count must be between 1 and 1000 \(given 0\)"),
    ({"batch_size": 11}, r"batch_size above 10 needs max_batching_window"),
    ({"thumbnail_queue_props": {"encryption": None}}, r"thumbnail_queue_props\['encryption'\] is set by the pattern"),
    ({"update_queue_props": {"visibility_timeout": Duration.seconds(10)}}, r"visibility timeout \(10 s\) must be"),
    ({"users_table_props": {"partition_key": None}}, r"users_table_props\['partition_key'\] is set by the pattern"),
    ({"thumbnailer_options": core.FunctionOptions(environment={"MAX_WIDTH": "9"})},
     r"thumbnailer_options\.environment\['MAX_WIDTH'\] is set by the pattern"),
    ({"updater_options": core.FunctionOptions(environment={"USERS_TABLE_NAME": "x"})},
     r"updater_options\.environment\['USERS_TABLE_NAME'\] is set by the pattern"),
])
def test_fails_if_sizes_format_or_props_are_invalid(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(**props)
