"""Rung 1 for CATALOG 18 WebAppWithApi: the template properties that make the site private, same-origin
and safe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_s3 as s3

from patterns import core
from patterns.web_app_with_api import DEFAULT_CONTENT_SECURITY_POLICY, TABLE_ACTIONS, WebAppWithApi
from tests.conftest import new_app
from tests.unit import _helpers
from tests.unit._helpers import action_set, synth, with_existing

EXISTING_BUCKET = "shared-site"
EXISTING_TABLE = "shared-items"


class Built(_helpers.Built[WebAppWithApi]):
    def distribution_config(self) -> dict[str, Any]:
        (props,) = [r["Properties"] for r in self.resources("AWS::CloudFront::Distribution").values()]
        return props["DistributionConfig"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("<h1>mine</h1>")
    app = new_app()
    stacks: dict[str, Built] = {}

    def add(name: str, **props: Any) -> None:
        stack = Stack(app, name)
        stacks[name] = Built(stack, WebAppWithApi(stack, "Web", **with_existing(stack, props)))

    add("Default")
    add(
        "Existing",
        existing_bucket=lambda s: s3.Bucket.from_bucket_name(s, "Shared", EXISTING_BUCKET),
        existing_table=lambda s: ddb.Table.from_table_name(s, "SharedTable", EXISTING_TABLE),
    )
    add("Custom", site_dir=str(site), api_path="backend", max_items=7, content_security_policy="default-src 'none'")
    return synth(stacks)


def test_creates_one_private_bucket_distribution_api_function_and_table(built) -> None:
    t = built["Default"].template
    for kind, count in (
        ("AWS::CloudFront::Distribution", 1), ("AWS::CloudFront::OriginAccessControl", 1),
        ("AWS::CloudFront::ResponseHeadersPolicy", 1), ("AWS::ApiGateway::RestApi", 1),
        ("AWS::DynamoDB::Table", 1), ("Custom::CDKBucketDeployment", 1), ("AWS::S3::Bucket", 2),
    ):
        t.resource_count_is(kind, count)
    site = built["Default"].props(built["Default"].pattern.bucket)
    assert site["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert site["LoggingConfiguration"]["LogFilePrefix"] == "Site/"


def test_the_bucket_admits_only_this_distribution(built) -> None:
    b = built["Default"]
    (policy,) = [
        p for p in b.resources("AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == b.ref(b.pattern.bucket)
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert allow["Action"] == "s3:GetObject"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]
    assert source[-1] == b.ref(b.pattern.distribution)
    assert not [s for s in statements if s["Effect"] == "Allow" and s.get("Principal") in ("*", {"AWS": "*"})]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_behaviours_spa_fallback_tls_and_headers(built) -> None:
    b = built["Default"]
    config = b.distribution_config()
    assert config["DefaultRootObject"] == "index.html"
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
    assert set(api["AllowedMethods"]) >= {"GET", "POST"}
    headers = b.ref(b.pattern.response_headers_policy)
    assert default["ResponseHeadersPolicyId"] == api["ResponseHeadersPolicyId"] == headers
    assert config["CustomErrorResponses"] == [
        {"ErrorCode": code, "ResponseCode": 200, "ResponsePagePath": "/index.html", "ErrorCachingMinTTL": 0}
        for code in (403, 404)
    ]
    origins = {o["Id"]: o for o in config["Origins"]}
    assert "OriginAccessControlId" in origins[default["TargetOriginId"]]
    assert origins[api["TargetOriginId"]]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert config["Logging"]["Prefix"] == "distribution/"
    (policy,) = b.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["ContentSecurityPolicy"]["ContentSecurityPolicy"] == DEFAULT_CONTENT_SECURITY_POLICY
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 63072000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert all(entry["Override"] for entry in security.values())


def test_the_api_is_regional_unauthenticated_validated_and_routes_api_items(built) -> None:
    b = built["Default"]
    (api,) = b.resources("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    methods = [r["Properties"] for r in b.resources("AWS::ApiGateway::Method").values()]
    assert sorted(m["HttpMethod"] for m in methods) == ["GET", "POST"]
    assert {m["AuthorizationType"] for m in methods} == {"NONE"}
    (post,) = [m for m in methods if m["HttpMethod"] == "POST"]
    assert "application/json" in post["RequestModels"] and "RequestValidatorId" in post
    paths = sorted(r["Properties"]["PathPart"] for r in b.resources("AWS::ApiGateway::Resource").values())
    assert paths == ["api", "items"]


def test_the_function_may_only_put_and_scan_its_table(built) -> None:
    b = built["Default"]
    statements = [s for s in b.statements(b.pattern.function.role) if "dynamodb:PutItem" in action_set(s)]
    assert [action_set(s) for s in statements] == [set(TABLE_ACTIONS)]
    env = b.env(b.pattern.function)
    assert env["API_PATH"] == "api" and env["MAX_ITEMS"] == "100"


def test_existing_bucket_and_table_are_used_and_no_log_bucket_is_made(built) -> None:
    b = built["Existing"]
    b.template.resource_count_is("AWS::S3::Bucket", 0)
    b.template.resource_count_is("AWS::DynamoDB::Table", 0)
    assert b.pattern.access_logs is None
    assert b.env(b.pattern.function)["TABLE_NAME"] == EXISTING_TABLE
    (deployment,) = b.resources("Custom::CDKBucketDeployment").values()
    assert deployment["Properties"]["DestinationBucketName"] == EXISTING_BUCKET
    assert "Logging" not in b.distribution_config()


def test_custom_site_api_path_limits_and_csp(built) -> None:
    b = built["Custom"]
    config = b.distribution_config()
    assert [c["PathPattern"] for c in config["CacheBehaviors"]] == ["/backend/*"]
    assert b.env(b.pattern.function)["API_PATH"] == "backend" and b.env(b.pattern.function)["MAX_ITEMS"] == "7"
    (policy,) = b.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert csp["ContentSecurityPolicy"] == "default-src 'none'"
    assert b.pattern.url.startswith("https://")


def test_the_default_site_ships_a_page_script_and_no_handler_code() -> None:
    site = core.handler_dir("web_app_with_api") / "site"
    assert {p.name for p in site.iterdir()} >= {"index.html", "app.js"}
    assert not list(site.glob("*.py"))


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"api_path": "Api"}, "api_path must be one lowercase path part"),
        ({"api_path": "api/v1"}, "api_path must be one lowercase path part"),
        ({"max_items": 0}, "max_items"),
        ({"max_items": 1001}, "max_items"),
        ({"content_security_policy": " "}, "content_security_policy must not be empty"),
        ({"site_dir": "/nonexistent/site"}, "site_dir must be a folder holding index.html"),
        ({"existing_bucket": "bucket", "bucket_props": {"versioned": False}}, "existing_bucket"),
        ({"existing_table": "table", "table_props": {}}, "existing_table"),
        ({"bucket_props": {"public_read_access": True}}, "public_read_access"),
    ],
)
def test_fails_if_props_are_invalid(props: dict[str, Any], message: str, tmp_path: Path) -> None:
    stack = Stack(new_app(), "Invalid")
    if props.get("existing_bucket") == "bucket":
        props["existing_bucket"] = s3.Bucket.from_bucket_name(stack, "B", "some-bucket")
    if props.get("existing_table") == "table":
        props["existing_table"] = ddb.Table.from_table_name(stack, "T", "t")
    with pytest.raises(ValueError, match=message):
        WebAppWithApi(stack, "Web", **props)


def test_an_authorizer_in_api_options_replaces_the_anonymous_default(built) -> None:
    stack = Stack(new_app(), "Iam")
    web = WebAppWithApi(stack, "Web", api_options=core.ApiOptions(authorization_type=apigw.AuthorizationType.IAM))
    from aws_cdk.assertions import Template

    methods = Template.from_stack(stack).find_resources("AWS::ApiGateway::Method")
    assert {m["Properties"]["AuthorizationType"] for m in methods.values()} == {"AWS_IAM"}
    assert web.api is not None
