"""CloudFront distributions on the local front door: one CDK app (an S3 site deployed by a
BucketDeployment behind an origin access control, an API Gateway origin, a loopback HTTP origin with
an origin path) synthesized and deployed once for the module; plain HTTP against the distribution.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from patterns.local import DeployError, LocalCloud
from patterns.local.frontdoor.cloudfront import bucket_policy_decision
from patterns.local.models.cloudfront import STORE, path_pattern_matches

from .apigateway_fixtures import new_stack

STACK = "CfSite"
INDEX = "<!doctype html><title>site</title><h1>the index page</h1>"
SITE_FILES = {"index.html": INDEX, "app.js": "console.log('app');", "docs/guide.html": "<h1>guide</h1>"}


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """An HTTP request to a ``*.localhost`` URL: connect to 127.0.0.1 and send the URL's Host, as a
    browser does for ``*.localhost`` names (the resolver here does not know them)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers={"Host": parts.netloc, **(headers or {})})
        response = connection.getresponse()
        return Reply(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


class _Echo(BaseHTTPRequestHandler):
    """The loopback HTTP origin: answers with what it received."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        document = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": self.rfile.read(length).decode() if length else "",
        }
        data = json.dumps(document).encode()
        self.send_response(404 if "/missing" in self.path else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Frame-Options", "DENY")  # the policy keeps an origin's value unless it overrides
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        return None


def _build(app: Any, site_dir: str, echo_port: int) -> None:
    from aws_cdk import Duration, RemovalPolicy
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_cloudfront as cf
    from aws_cdk import aws_cloudfront_origins as origins
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_s3_deployment as s3d

    stack = new_stack(app, STACK)
    bucket = s3.Bucket(
        stack,
        "Site",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.DESTROY,
    )
    api = apigw.RestApi(stack, "Api", deploy_options=apigw.StageOptions(stage_name="prod"))
    items = api.root.add_resource("api").add_resource("items")
    items.add_method(
        "GET",
        apigw.MockIntegration(
            request_templates={"application/json": '{"statusCode": 200}'},
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_templates={"application/json": '{"items": ["a", "b"], "q": "$input.params(\'q\')"}'},
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    headers_policy = cf.ResponseHeadersPolicy(
        stack,
        "Headers",
        security_headers_behavior=cf.ResponseSecurityHeadersBehavior(
            content_security_policy=cf.ResponseHeadersContentSecurityPolicy(
                content_security_policy="default-src 'self'", override=True
            ),
            strict_transport_security=cf.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=Duration.days(365), include_subdomains=True, override=True
            ),
            content_type_options=cf.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cf.ResponseHeadersFrameOptions(frame_option=cf.HeadersFrameOption.DENY, override=False),
        ),
        custom_headers_behavior=cf.ResponseCustomHeadersBehavior(
            custom_headers=[cf.ResponseCustomHeader(header="X-Site", value="local", override=True)]
        ),
        remove_headers=["X-Powered-By"],
    )
    echo_plain = origins.HttpOrigin(
        "localhost", http_port=echo_port, protocol_policy=cf.OriginProtocolPolicy.HTTP_ONLY, origin_path="/base"
    )
    distribution = cf.Distribution(
        stack,
        "Dist",
        default_root_object="index.html",
        default_behavior=cf.BehaviorOptions(
            origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
            viewer_protocol_policy=cf.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            response_headers_policy=headers_policy,
        ),
        additional_behaviors={
            "/api/*": cf.BehaviorOptions(
                origin=origins.RestApiOrigin(api),
                allowed_methods=cf.AllowedMethods.ALLOW_ALL,
                cache_policy=cf.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cf.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                viewer_protocol_policy=cf.ViewerProtocolPolicy.HTTPS_ONLY,
                response_headers_policy=cf.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            # Both patterns match /echo/q/...: the first listed wins.
            "/echo/q/*": cf.BehaviorOptions(
                origin=echo_plain,
                allowed_methods=cf.AllowedMethods.ALLOW_ALL,
                cache_policy=cf.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cf.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy=headers_policy,
            ),
            "/echo/*": cf.BehaviorOptions(
                origin=echo_plain,
                cache_policy=cf.CachePolicy.CACHING_DISABLED,
                response_headers_policy=headers_policy,
            ),
        },
        error_responses=[
            cf.ErrorResponse(http_status=403, response_http_status=200, response_page_path="/index.html"),
            cf.ErrorResponse(http_status=404, response_http_status=200, response_page_path="/index.html"),
        ],
    )
    # The same bucket without an origin access control: CloudFront asks anonymously.
    anonymous = cf.Distribution(
        stack, "Anonymous", default_behavior=cf.BehaviorOptions(origin=origins.S3BucketOrigin(bucket))
    )
    s3d.BucketDeployment(
        stack, "Deploy", sources=[s3d.Source.asset(site_dir)], destination_bucket=bucket, distribution=distribution
    )
    from aws_cdk import CfnOutput

    CfnOutput(stack, "DomainName", value=distribution.distribution_domain_name)
    CfnOutput(stack, "AnonymousId", value=anonymous.distribution_id)
    CfnOutput(stack, "BucketName", value=bucket.bucket_name)


@pytest.fixture(scope="module")
def echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, echo: int) -> Iterator[tuple[LocalCloud, Any]]:
    import aws_cdk as cdk

    site = tmp_path_factory.mktemp("site")
    for name, text in SITE_FILES.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    _build(app, str(site), echo)
    app.synth()
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(str(outdir), STACK)


@pytest.fixture(scope="module")
def site(deployed: tuple[LocalCloud, Any]) -> str:
    cloud, _stack = deployed
    return cloud.distribution_url(f"{STACK}/Dist")


def _security_headers(reply: Reply) -> dict[str, str]:
    names = ("content-security-policy", "strict-transport-security", "x-content-type-options", "x-frame-options")
    return {name: reply.headers.get(name, "") for name in names}


CUSTOM_POLICY = {
    "content-security-policy": "default-src 'self'",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def test_the_distribution_gets_a_local_url_by_logical_id_path_or_domain_name(deployed, site) -> None:
    cloud, stack = deployed
    distribution = STORE.distribution(stack.outputs["DomainName"])
    assert distribution is not None
    assert site == f"{cloud.front_door_url.replace('127.0.0.1', distribution.id.lower() + '.cloudfront.localhost')}"
    assert cloud.distribution_url(stack.outputs["DomainName"]) == site
    assert cloud.distribution_url(distribution.id) == site
    # The viewer protocol policies are recorded, per behaviour in precedence order.
    assert [(b.path_pattern, b.viewer_protocol_policy) for b in distribution.behaviors] == [
        ("/api/*", "https-only"),
        ("/echo/q/*", "allow-all"),
        ("/echo/*", "allow-all"),
        ("*", "redirect-to-https"),
    ]


def test_root_serves_the_default_root_object_from_the_bucket_with_security_headers(site) -> None:
    reply = fetch(site + "/")
    assert (reply.status, reply.body.decode()) == (200, INDEX)
    assert reply.headers["content-type"] == "text/html"
    assert _security_headers(reply) == CUSTOM_POLICY
    assert reply.headers["x-site"] == "local"
    assert reply.headers["x-cache"] == "Miss from cloudfront" and "CloudFront" in reply.headers["via"]


def test_the_bucket_deployment_copied_the_folder_with_content_types(deployed, site) -> None:
    cloud, stack = deployed
    keys = [o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=stack.outputs["BucketName"])["Contents"]]
    assert sorted(keys) == sorted(SITE_FILES)
    script = fetch(site + "/app.js")
    assert (script.status, script.body.decode()) == (200, SITE_FILES["app.js"])
    assert script.headers["content-type"] in ("text/javascript", "application/javascript")
    assert fetch(site + "/docs/guide.html").body.decode() == SITE_FILES["docs/guide.html"]


def test_unknown_paths_fall_back_to_the_index_with_200(site) -> None:
    # The bucket policy grants no s3:ListBucket: a missing key is S3's 403, replaced by /index.html.
    for path in ("/orders/42", "/docs/", "/no-such-file.png"):
        reply = fetch(site + path)
        assert (path, reply.status, reply.body.decode()) == (path, 200, INDEX)
        assert _security_headers(reply) == CUSTOM_POLICY


def test_api_paths_reach_api_gateway_under_the_origin_path_with_the_query_string(site) -> None:
    reply = fetch(site + "/api/items?q=shoes")
    assert reply.status == 200, reply.body
    assert reply.json() == {"items": ["a", "b"], "q": "shoes"}
    # The /api/* behaviour has the managed SecurityHeadersPolicy.
    assert reply.headers["strict-transport-security"] == "max-age=31536000"
    assert reply.headers["x-frame-options"] == "SAMEORIGIN"
    assert "content-security-policy" not in reply.headers


def test_custom_error_responses_apply_to_every_behaviour_as_on_cloudfront(site) -> None:
    # API Gateway answers 403 for a path it has no resource for; the distribution-wide error response
    # turns it into the SPA page (why an SPA's API must not rely on 403/404 through one distribution).
    reply = fetch(site + "/api/unknown")
    assert (reply.status, reply.body.decode()) == (200, INDEX)
    assert reply.headers["x-frame-options"] == "SAMEORIGIN"  # the /api/* behaviour's policy


def test_a_method_the_behaviour_does_not_allow_is_refused_with_the_security_headers(site) -> None:
    reply = fetch(site + "/index.html", method="POST", body=b"{}")
    assert reply.status == 403 and b"not configured to allow the HTTP request method" in reply.body
    assert _security_headers(reply) == CUSTOM_POLICY


def test_behaviours_match_in_order_and_forward_what_their_policies_say(site, echo: int) -> None:
    # /echo/q/* comes first: all viewer headers but Host and the query string go on.
    first = fetch(site + "/echo/q/x?a=1&b=2", headers={"X-Trace": "t1", "Cookie": "c=1"})
    seen = first.json()
    assert seen["path"] == "/base/echo/q/x?a=1&b=2"
    assert seen["headers"]["x-trace"] == "t1" and seen["headers"]["cookie"] == "c=1"
    assert seen["headers"]["host"] == f"localhost:{echo}"  # the origin's name, not the viewer's
    # /echo/*: CachingDisabled alone forwards no viewer header, cookie or query string.
    second = fetch(site + "/echo/y?a=1", headers={"X-Trace": "t2", "Cookie": "c=1"}).json()
    assert second["path"] == "/base/echo/y"
    assert "x-trace" not in second["headers"] and "cookie" not in second["headers"]
    # An origin's own header is kept unless the policy overrides it.
    assert first.headers["x-frame-options"] == "DENY" and first.headers["x-site"] == "local"


def test_post_bodies_reach_a_custom_origin(site) -> None:
    seen = fetch(site + "/echo/q/post", method="POST", body=b'{"n": 1}', headers={"Content-Type": "application/json"})
    assert seen.json()["body"] == '{"n": 1}' and seen.json()["method"] == "POST"


def test_origin_errors_without_an_error_response_page_keep_their_status(site) -> None:
    # 404 from the echo origin *is* configured (→ index.html); the security headers are on it either way.
    reply = fetch(site + "/echo/missing")
    assert (reply.status, reply.body.decode()) == (200, INDEX)


def test_the_bucket_refuses_anonymous_reads(deployed) -> None:
    cloud, stack = deployed
    bucket = stack.outputs["BucketName"]
    # Through a distribution without an origin access control, CloudFront's request is anonymous.
    anonymous = fetch(cloud.distribution_url(stack.outputs["AnonymousId"]) + "/index.html")
    assert anonymous.status == 403 and b"AccessDenied" in anonymous.body and INDEX.encode() not in anonymous.body
    # An unsigned GET straight to the S3 endpoint.
    endpoint = cloud.core.handler_env["AWS_ENDPOINT_URL"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{endpoint}/{bucket}/index.html", timeout=10)
    assert refused.value.code == 403 and INDEX.encode() not in refused.value.read()


def test_bucket_policy_decisions_follow_principal_source_arn_and_deny() -> None:
    arn = "arn:aws:cloudfront::123456789012:distribution/EABC"
    policy = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": arn}},
            },
        ]
    }
    service = {"Service": "cloudfront.amazonaws.com"}
    tls = {"aws:SecureTransport": "true"}
    assert (
        bucket_policy_decision(policy, service, "s3:GetObject", "arn:aws:s3:::b/k", {**tls, "AWS:SourceArn": arn})
        == "Allow"
    )
    other = {**tls, "AWS:SourceArn": arn + "X"}
    assert bucket_policy_decision(policy, service, "s3:GetObject", "arn:aws:s3:::b/k", other) == "None"
    assert bucket_policy_decision(policy, {"AWS": "*"}, "s3:GetObject", "arn:aws:s3:::b/k", tls) == "None"
    plain = {"aws:SecureTransport": "false", "AWS:SourceArn": arn}
    assert bucket_policy_decision(policy, service, "s3:GetObject", "arn:aws:s3:::b/k", plain) == "Deny"
    with pytest.raises(ValueError, match="NumericLessThan"):
        bucket_policy_decision(
            {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "*",
                        "Condition": {"NumericLessThan": {"s3:max-keys": "5"}},
                    }
                ]
            },
            service,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            tls,
        )


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/api/*", "/api/items", True),
        ("api/*", "/api/items", True),
        ("/api/*", "/API/items", False),
        ("/img/?.png", "/img/a.png", True),
        ("/img/?.png", "/img/ab.png", False),
        ("*.js", "/x/y.js", True),
        ("/api/*", "/api", False),
    ],
)
def test_path_patterns_are_case_sensitive_globs(pattern: str, path: str, matches: bool) -> None:
    assert path_pattern_matches(pattern, path) is matches


def _distribution_template(behavior: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    origin = {"Id": "o1", "DomainName": "localhost", "CustomOriginConfig": {"OriginProtocolPolicy": "http-only"}}
    distribution_config = {
        "Enabled": True,
        "Origins": [origin],
        "DefaultCacheBehavior": {
            "TargetOriginId": "o1",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            **(behavior or {}),
        },
        **config,
    }
    return {
        "Resources": {
            "Edge": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": distribution_config}}
        }
    }


@pytest.mark.parametrize(
    ("template", "feature"),
    [
        (
            _distribution_template(
                {
                    "LambdaFunctionAssociations": [
                        {
                            "EventType": "viewer-request",
                            "LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:f:1",
                        }
                    ]
                }
            ),
            "Lambda@Edge",
        ),
        (
            _distribution_template(
                {
                    "FunctionAssociations": [
                        {"EventType": "viewer-request", "FunctionARN": "arn:aws:cloudfront::123456789012:function/f"}
                    ]
                }
            ),
            "CloudFront Functions",
        ),
        (_distribution_template({"TrustedKeyGroups": ["kg1"]}), "signed URLs"),
        (_distribution_template({"ResponseHeadersPolicyId": "5cc3b908-e619-4b99-88e5-2cf7f45965bd"}), "CORS"),
        (_distribution_template({"CachePolicyId": "00000000-0000-0000-0000-000000000000"}), "CachePolicyId"),
        (
            _distribution_template(
                Origins=[
                    {
                        "Id": "o1",
                        "DomainName": "example.com",
                        "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
                    }
                ]
            ),
            "custom origin example.com is not served",
        ),
        (
            _distribution_template(
                Origins=[
                    {
                        "Id": "o1",
                        "DomainName": "b.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": "origin-access-identity/cloudfront/X"},
                    }
                ]
            ),
            "origin access identities",
        ),
        (_distribution_template(OriginGroups={"Quantity": 1, "Items": [{"Id": "g"}]}), "OriginGroups"),
    ],
)
def test_what_the_local_cloud_cannot_serve_fails_at_deploy_naming_resource_and_feature(
    deployed, template: dict[str, Any], feature: str
) -> None:
    cloud, _ = deployed
    with pytest.raises(DeployError, match=r"Edge \(AWS::CloudFront::Distribution\)") as failed:
        cloud.deploy_template(template, f"Unsupported{abs(hash(feature))}")
    assert feature in str(failed.value)


def test_an_update_keeps_the_distribution_id_and_applies_the_new_config(deployed, echo: int) -> None:
    cloud, _ = deployed
    origin = {
        "Id": "o1",
        "DomainName": "localhost",
        "CustomOriginConfig": {"OriginProtocolPolicy": "http-only", "HTTPPort": echo},
    }
    first = cloud.deploy_template(_distribution_template(Origins=[{**origin, "OriginPath": "/v1"}]), "CfUpdate")
    url = cloud.distribution_url(first.physical_id("Edge"))
    assert fetch(url + "/x").json()["path"] == "/v1/x"
    second = cloud.deploy_template(_distribution_template(Origins=[{**origin, "OriginPath": "/v2"}]), "CfUpdate")
    assert second.physical_id("Edge") == first.physical_id("Edge")
    assert fetch(url + "/x").json()["path"] == "/v2/x"
    cloud.destroy("CfUpdate")
    assert fetch(url + "/x").status == 404
