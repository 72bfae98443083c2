"""Rung 1 for CATALOG 6 FanOutFanIn: the template properties that make the fan-out and fan-in correct and safe."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from patterns import core
from patterns.fan_out_fan_in import FanOutFanIn, Rendition
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_list, objects, synth

PILLOW_ARN = "arn:aws:lambda:us-east-1:770693421928:layer:Klayers-p314-arm64-Pillow:1"
EXISTING_TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:asset-created"


Built = _helpers.Built[FanOutFanIn]


def pillow(stack: Stack) -> lambda_.ILayerVersion:
    return lambda_.LayerVersion.from_layer_version_arn(stack, "Pillow", PILLOW_ARN)


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """One App, several stacks: synth is paid once for the whole module."""
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        resolved = {k: v(stack) if callable(v) else v for k, v in props.items()}
        stacks[name] = Built(stack, FanOutFanIn(stack, "Assets", **resolved))

    add("Default", pillow_layer=pillow)
    add(
        "Custom", pillow_layer=pillow,
        renditions=[Rendition(name="web-small", width=320, format="WEBP"),
                    Rendition(name="print", width=3000, format="PNG", allow_upscale=False)],
        input_filters=[s3.NotificationKeyFilter(prefix="uploads/", suffix=".jpg")],
        worker_batch_size=3, fan_in_batch_size=5, max_receive_count=2,
        worker_options=core.FunctionOptions(memory_size=2048, timeout=Duration.seconds(60)),
    )
    add(
        "Existing", pillow_layer=pillow,
        existing_input_bucket=lambda s: s3.Bucket.from_bucket_name(s, "Uploads", "shared-uploads"),
        existing_output_bucket=lambda s: s3.Bucket.from_bucket_name(s, "Renditions", "shared-renditions"),
        existing_topic=lambda s: sns.Topic.from_topic_arn(s, "SharedTopic", EXISTING_TOPIC_ARN),
        existing_jobs_table=lambda s: ddb.Table.from_table_name(s, "SharedJobs", "shared-jobs"),
    )
    add(
        "Swap", worker_handler="index.render", fan_in_handler="index.collect",
        handler_code=lambda_.Code.from_inline("def render(e, c):\n    return {'batchItemFailures': []}\n"),
    )
    return synth(stacks)


# --- resources ------------------------------------------------------------------------------------


def test_creates_a_queue_dlq_and_worker_per_rendition_plus_the_fan_in(built) -> None:
    t = built["Default"].template
    t.resource_count_is("AWS::S3::Bucket", 3)  # uploads, renditions, access logs
    t.resource_count_is("AWS::SNS::Topic", 1)
    t.resource_count_is("AWS::KMS::Key", 1)
    t.resource_count_is("AWS::SQS::Queue", 8)  # (queue + DLQ) x (3 workers + fan-in)
    t.resource_count_is("AWS::SNS::Subscription", 4)
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 4)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.resource_count_is("Custom::S3BucketNotifications", 2)
    # 3 workers + fan-in + CDK's notification handler
    t.resource_count_is("AWS::Lambda::Function", 5)
    # errors + throttles per function (4 x 2), oldest message per queue (4), depth per DLQ (4)
    t.resource_count_is("AWS::CloudWatch::Alarm", 16)
    p = built["Default"].pattern
    assert list(p.workers) == ["thumbnail", "medium", "large"]
    assert set(p.alarms) >= {"LargeWorkerErrors", "LargeDeadLetterQueueDepth", "FanInQueueOldestMessage",
                             "FanInDeadLetterQueueDepth"}


def test_default_renditions_are_thumbnail_medium_and_large_jpegs(built) -> None:
    b = built["Default"]
    widths = {name: b.props(fn)["Environment"]["Variables"] for name, fn in b.pattern.workers.items()}
    assert {n: (v["RENDITION_WIDTH"], v["RENDITION_FORMAT"], v["ALLOW_UPSCALE"]) for n, v in widths.items()} == {
        "thumbnail": ("160", "JPEG", "true"), "medium": ("640", "JPEG", "true"), "large": ("1280", "JPEG", "true"),
    }


def test_uploads_notify_the_topic_and_renditions_notify_the_fan_in_queue(built) -> None:
    b = built["Default"]
    configs = {
        r["Properties"]["BucketName"]["Ref"]: r["Properties"]["NotificationConfiguration"]
        for r in b.resources("Custom::S3BucketNotifications").values()
    }
    assert configs[b.logical_id(b.pattern.input_bucket)] == {
        "TopicConfigurations": [{"Events": ["s3:ObjectCreated:*"], "TopicArn": b.ref(b.pattern.topic)}],
    }
    assert configs[b.logical_id(b.pattern.output_bucket)] == {
        "QueueConfigurations": [{"Events": ["s3:ObjectCreated:*"], "QueueArn": b.arn(b.pattern.fan_in_queue)}],
    }


def test_input_filters_select_the_uploads_that_start_a_job(built) -> None:
    b = built["Custom"]
    [config] = [
        r["Properties"]["NotificationConfiguration"] for r in b.resources("Custom::S3BucketNotifications").values()
        if r["Properties"]["BucketName"] == b.ref(b.pattern.input_bucket)
    ]
    assert config["TopicConfigurations"][0]["Filter"] == {"Key": {"FilterRules": [
        {"Name": "suffix", "Value": ".jpg"}, {"Name": "prefix", "Value": "uploads/"},
    ]}}


def test_s3_may_publish_to_the_topic_and_use_its_key_only_for_the_uploads_bucket(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        Match.object_like({
            "Action": "sns:Publish", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Condition": {"ArnLike": {"aws:SourceArn": b.arn(b.pattern.input_bucket)}},
        }),
    ])}})
    [key] = b.resources("AWS::KMS::Key").values()
    s3_actions = {a for s in key["Properties"]["KeyPolicy"]["Statement"]
                  if s["Principal"] == {"Service": "s3.amazonaws.com"} for a in s["Action"]}
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= s3_actions


def test_s3_may_send_to_the_fan_in_queue_only_from_the_renditions_bucket(built) -> None:
    b = built["Default"]
    b.template.has_resource_properties("AWS::SQS::QueuePolicy", {
        "Queues": [b.ref(b.pattern.fan_in_queue)],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Principal": {"Service": "s3.amazonaws.com"},
            "Condition": {"ArnLike": {"aws:SourceArn": b.arn(b.pattern.output_bucket)}},
        })])},
    })


def _subscription_of(b: Built, queue: Any) -> dict[str, Any]:
    found = [r["Properties"] for r in b.resources("AWS::SNS::Subscription").values()
             if r["Properties"]["Endpoint"] == b.arn(queue)]
    assert len(found) == 1
    return found[0]


def test_every_worker_queue_and_the_fan_in_queue_subscribe_raw_with_their_own_dlq(built) -> None:
    b = built["Default"]
    pairs = [(b.pattern.worker_queues[n], b.pattern.worker_dead_letter_queues[n]) for n in b.pattern.workers]
    for queue, dlq in [*pairs, (b.pattern.fan_in_queue, b.pattern.fan_in_dead_letter_queue)]:
        sub = _subscription_of(b, queue)
        assert sub["RawMessageDelivery"] is True  # the body is S3's notification JSON
        assert sub["RedrivePolicy"] == {"deadLetterTargetArn": b.arn(dlq)}
        assert sub["TopicArn"] == b.ref(b.pattern.topic)
        assert "FilterPolicy" not in sub


def test_each_queue_redrives_to_its_own_dlq_with_a_visibility_of_six_consumer_timeouts(built) -> None:
    for stack, count, worker_visibility in (("Default", core.MAX_RECEIVE_COUNT, 180), ("Custom", 2, 360)):
        b = built[stack]
        for name, queue in b.pattern.worker_queues.items():
            props = b.props(queue)
            assert props["RedrivePolicy"] == {"deadLetterTargetArn": b.arn(b.pattern.worker_dead_letter_queues[name]),
                                              "maxReceiveCount": count}
            assert props["VisibilityTimeout"] == worker_visibility
        fan_in = b.props(b.pattern.fan_in_queue)
        assert fan_in["RedrivePolicy"]["maxReceiveCount"] == count
        assert fan_in["VisibilityTimeout"] == 60


def test_event_sources_report_batch_item_failures_with_the_configured_batch_sizes(built) -> None:
    for stack, worker_batch, fan_in_batch in (("Default", 1, 10), ("Custom", 3, 5)):
        b = built[stack]
        mappings = {m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"]
                    for m in b.resources("AWS::Lambda::EventSourceMapping").values()}
        for name, queue in b.pattern.worker_queues.items():
            props = mappings[b.logical_id(queue)]
            assert props["FunctionName"] == b.ref(b.pattern.workers[name])
            assert props["BatchSize"] == worker_batch
            assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        props = mappings[b.logical_id(b.pattern.fan_in_queue)]
        assert props["FunctionName"] == b.ref(b.pattern.fan_in)
        assert (props["BatchSize"], props["FunctionResponseTypes"]) == (fan_in_batch, ["ReportBatchItemFailures"])


def test_only_the_workers_get_the_pillow_layer(built) -> None:
    b = built["Default"]
    for worker in b.pattern.workers.values():
        layers = b.props(worker)["Layers"]
        assert PILLOW_ARN in layers
        assert len(layers) == 2  # Powertools + Pillow
    assert PILLOW_ARN not in b.props(b.pattern.fan_in)["Layers"]


def test_workers_and_fan_in_get_their_configuration(built) -> None:
    b = built["Custom"]
    web = b.props(b.pattern.workers["web-small"])
    assert web["Handler"] == "workers.handler"
    assert (web["MemorySize"], web["Timeout"]) == (2048, 60)
    assert {k: v for k, v in web["Environment"]["Variables"].items() if not k.startswith("POWERTOOLS_")} == {
        "OUTPUT_BUCKET": b.ref(b.pattern.output_bucket), "RENDITION_NAME": "web-small", "RENDITION_WIDTH": "320",
        "RENDITION_FORMAT": "WEBP", "ALLOW_UPSCALE": "true",
    }
    assert b.props(b.pattern.workers["print"])["Environment"]["Variables"]["ALLOW_UPSCALE"] == "false"
    fan_in = b.props(b.pattern.fan_in)
    assert fan_in["Handler"] == "fan_in.handler"
    assert (fan_in["MemorySize"], fan_in["Timeout"]) == (256, 10)
    variables = fan_in["Environment"]["Variables"]
    assert variables["PARTS"] == "web-small.webp,print.png"
    assert variables["INPUT_BUCKET"] == b.ref(b.pattern.input_bucket)
    assert variables["OUTPUT_BUCKET"] == b.ref(b.pattern.output_bucket)
    assert variables["JOBS_TABLE"] == b.ref(b.pattern.jobs_table)
    assert [c.node.id for c in b.pattern.node.children if c.node.id.endswith("Worker")] == [
        "WebSmallWorker", "PrintWorker"]


def _grants(statements: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(action, resource) of every statement but logging, tracing and queue consumption."""
    return [
        (a, s["Resource"]) for s in statements for a in action_list(s) if not a.startswith(("logs:", "xray:", "sqs:"))
    ]


def test_a_worker_reads_uploads_and_writes_only_its_own_rendition(built) -> None:
    b = built["Default"]
    for name, worker in b.pattern.workers.items():
        assert sorted(_grants(b.statements(worker.role)), key=str) == sorted([
            ("s3:GetObject", [objects(b.arn(b.pattern.input_bucket), "*"),
                              objects(b.arn(b.pattern.output_bucket), f"*/{name}.jpg")]),
            ("s3:ListBucket", [b.arn(b.pattern.input_bucket), b.arn(b.pattern.output_bucket)]),
            ("s3:PutObject", objects(b.arn(b.pattern.output_bucket), f"*/{name}.jpg")),
        ], key=str)
        sqs = [s["Resource"] for s in b.statements(worker.role) if action_list(s)[0].startswith("sqs:")]
        assert sqs == [b.arn(b.pattern.worker_queues[name])]


def test_the_fan_in_reads_both_buckets_and_updates_jobs_but_writes_no_object(built) -> None:
    b = built["Default"]
    grants = _grants(b.statements(b.pattern.fan_in.role))
    assert sorted(grants, key=str) == sorted([
        ("s3:GetObject", [objects(b.arn(b.pattern.input_bucket), "*"), objects(b.arn(b.pattern.output_bucket), "*")]),
        ("s3:ListBucket", [b.arn(b.pattern.input_bucket), b.arn(b.pattern.output_bucket)]),
        ("dynamodb:UpdateItem", b.arn(b.pattern.jobs_table)),
    ], key=str)


def test_buckets_and_jobs_table_use_the_library_defaults(built) -> None:
    b = built["Default"]
    for bucket in (b.pattern.input_bucket, b.pattern.output_bucket):
        props = b.props(bucket)
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
        assert props["LoggingConfiguration"]["DestinationBucketName"] == b.ref(b.pattern.access_log_bucket)
    table = b.props(b.pattern.jobs_table)
    assert table["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert "StreamSpecification" not in table  # the fan-in is driven by the renditions bucket


def test_the_pattern_has_no_unacknowledged_nag_findings(built) -> None:
    for stack in ("Default", "Custom", "Existing"):
        for pack in (AwsSolutionsChecks, ServerlessChecks):
            report = pack().validate_scope(built[stack].stack)
            assert [v.rule_name for v in report.violations] == [], (stack, pack.__name__)


# --- existing resources, handler swap, passthroughs ----------------------------------------------


def test_existing_buckets_topic_and_table_are_used_and_none_is_created(built) -> None:
    b = built["Existing"]
    for kind in ("AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::DynamoDB::Table"):
        b.template.resource_count_is(kind, 0)
    assert b.pattern.access_log_bucket is None
    notifications = {r["Properties"]["BucketName"]: r["Properties"]["NotificationConfiguration"]
                     for r in b.resources("Custom::S3BucketNotifications").values()}
    assert notifications["shared-uploads"]["TopicConfigurations"][0]["TopicArn"] == EXISTING_TOPIC_ARN
    assert set(notifications["shared-renditions"]) == {"QueueConfigurations"}
    assert {r["Properties"]["TopicArn"] for r in b.resources("AWS::SNS::Subscription").values()} == {EXISTING_TOPIC_ARN}
    variables = b.props(b.pattern.fan_in)["Environment"]["Variables"]
    assert (variables["INPUT_BUCKET"], variables["OUTPUT_BUCKET"], variables["JOBS_TABLE"]) == (
        "shared-uploads", "shared-renditions", "shared-jobs")
    assert b.props(b.pattern.workers["large"])["Environment"]["Variables"]["OUTPUT_BUCKET"] == "shared-renditions"
    jobs = [s for s in b.statements(b.pattern.fan_in.role) if s["Action"] == "dynamodb:UpdateItem"]
    assert len(jobs) == 1 and "shared-jobs" in str(jobs[0]["Resource"])
    puts = [s for s in b.statements(b.pattern.workers["large"].role) if s["Action"] == "s3:PutObject"]
    assert len(puts) == 1 and "shared-renditions/*/large.jpg" in str(puts[0]["Resource"])


def test_handler_code_and_handlers_can_be_swapped_without_a_pillow_layer(built) -> None:
    b = built["Swap"]
    for worker in b.pattern.workers.values():
        props = b.props(worker)
        assert props["Handler"] == "index.render"
        assert "batchItemFailures" in props["Code"]["ZipFile"]
        assert len(props["Layers"]) == 1  # Powertools only: the swapped code brings its own Pillow
    assert b.props(b.pattern.fan_in)["Handler"] == "index.collect"
    b.template.resource_count_is("AWS::Lambda::EventSourceMapping", 4)


def test_grants_and_metric_passthroughs() -> None:
    stack = Stack(new_app(), "Grants")
    pattern = FanOutFanIn(stack, "Assets", pillow_layer=pillow(stack))
    api = lambda_.Function(stack, "Api", runtime=core.RUNTIME, handler="i.h", code=lambda_.Code.from_inline("x=1"))
    pattern.grant_upload(api)
    pattern.grant_read_renditions(api)
    pattern.grant_read_jobs(api)
    statements = [s for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
                  if {"Ref": stack.get_logical_id(api.role.node.default_child)} in p["Properties"]["Roles"]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in action_list(s)}
    assert {"s3:PutObject", "s3:GetObject*", "dynamodb:GetItem", "dynamodb:Query"} <= actions
    assert not actions & {"dynamodb:PutItem", "dynamodb:UpdateItem", "s3:DeleteObject*"}
    metric = pattern.metric_jobs_ready()
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("ServerlessPatterns", "JobsReady", "Sum")
    assert metric.dimensions == {"service": "Assets-fan-in"}


# --- validation -----------------------------------------------------------------------------------


def _build(**props: Any) -> FanOutFanIn:
    stack = Stack(new_app(), "Invalid")
    props = {k: v(stack) if callable(v) else v for k, v in props.items()}
    props.setdefault("pillow_layer", pillow(stack))
    return FanOutFanIn(stack, "Assets", **props)


def test_fails_if_there_are_no_renditions() -> None:
    with pytest.raises(ValueError, match="renditions must name at least one Rendition"):
        _build(renditions=[])


def test_fails_if_rendition_names_repeat() -> None:
    with pytest.raises(ValueError, match=r"rendition names must be unique \(given \['a', 'b', 'a'\]\)"):
        _build(renditions=[Rendition(name=n, width=10) for n in ("a", "b", "a")])


def test_fails_if_rendition_names_collide_once_dashes_are_removed() -> None:
    with pytest.raises(ValueError, match=r"unique once dashes are removed.*\['a1', 'a-1'\]"):
        _build(renditions=[Rendition(name="a1", width=10), Rendition(name="a-1", width=10)])


@pytest.mark.parametrize("name", ["", "Thumb", "9x", "thumb_nail", "a--b", "a-", "x" * 33])
def test_fails_if_a_rendition_name_is_not_a_lowercase_slug(name: str) -> None:
    with pytest.raises(ValueError, match="must start with a lowercase letter"):
        _build(renditions=[Rendition(name=name, width=10)])


@pytest.mark.parametrize("width", [0, 10001])
def test_fails_if_a_rendition_width_is_out_of_range(width: int) -> None:
    with pytest.raises(ValueError, match=rf"rendition 'a' width must be between 1 and 10000 \(given {width}\)"):
        _build(renditions=[Rendition(name="a", width=width)])


def test_fails_if_a_rendition_format_is_unknown() -> None:
    with pytest.raises(ValueError, match=r"format must be one of JPEG, PNG, WEBP \(given 'GIF'\)"):
        _build(renditions=[Rendition(name="a", width=10, format="GIF")])


def test_fails_if_neither_a_pillow_layer_nor_handler_code_is_given() -> None:
    with pytest.raises(ValueError, match="Pillow, which the Lambda runtime does not include: pass pillow_layer"):
        _build(pillow_layer=None)


@pytest.mark.parametrize("same_object", [True, False])
def test_fails_if_uploads_and_renditions_share_a_bucket(same_object: bool) -> None:
    stack = Stack(new_app(), "Invalid")
    shared = s3.Bucket.from_bucket_name(stack, "Shared", "shared")
    other = shared if same_object else s3.Bucket.from_bucket_name(stack, "SharedAgain", "shared")
    with pytest.raises(ValueError, match="are the same bucket: every rendition written there would start a new job"):
        FanOutFanIn(stack, "Assets", pillow_layer=pillow(stack), existing_input_bucket=shared,
                    existing_output_bucket=other)


@pytest.mark.parametrize(("existing", "props_name", "make"), [
    ("existing_input_bucket", "input_bucket_props", lambda s: s3.Bucket.from_bucket_name(s, "B", "bkt")),
    ("existing_output_bucket", "output_bucket_props", lambda s: s3.Bucket.from_bucket_name(s, "B", "bkt")),
    ("existing_jobs_table", "jobs_table_props", lambda s: ddb.Table.from_table_name(s, "T", "t")),
])
def test_fails_if_an_existing_resource_and_its_props_are_both_given(existing: str, props_name: str, make: Any) -> None:
    with pytest.raises(ValueError, match=f"{existing} and {props_name} cannot both be set"):
        _build(**{existing: make, props_name: {}})


@pytest.mark.parametrize(("prop", "value", "message"), [
    ("worker_batch_size", 11, r"worker_batch_size must be between 1 and 10 \(given 11\)"),
    ("fan_in_batch_size", 0, r"fan_in_batch_size must be between 1 and 10 \(given 0\)"),
    ("max_receive_count", 0, r"max_receive_count must be between 1 and 1000 \(given 0\)"),
])
def test_fails_if_a_batch_size_or_receive_count_is_out_of_range(prop: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(**{prop: value})


def test_fails_if_bucket_props_override_what_the_pattern_forces() -> None:
    with pytest.raises(ValueError, match=r"input_bucket_props\['enforce_ssl'\] is set by the pattern"):
        _build(input_bucket_props={"enforce_ssl": False})
