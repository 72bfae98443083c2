"""Rung 5 for CATALOG 18 WebAppWithApi: WebAppWithApiDemo deployed into the local cloud and used through
its CloudFront distribution only, with the real handler and the deployed SPA files.

Proves: the distribution serves the page (default root object) and its script; ``/api/items`` answers
through the same origin (items added are listed, counted in the table); client-side routes fall back to
the page with 200; every answer carries the security headers. Faults: the bucket refuses direct,
unsigned reads, and its policy admits no other distribution; a nameless item is refused with 400 (not
swallowed by the SPA fallback) and writes nothing; a write method on the site is refused.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from demo import web_app_with_api as demo
from demo._drive import distribution_url_mapper
from patterns.core import handler_dir
from patterns.local import LocalCloud
from patterns.local.frontdoor.cloudfront import bucket_policy_decision
from tests.e2e._local_drive import drive_context

STACK = "WebAppWithApiDemo"
SITE = handler_dir("web_app_with_api") / "site"
SECURITY_HEADERS = (
    "content-security-policy", "strict-transport-security", "x-content-type-options", "x-frame-options",
    "referrer-policy",
)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(url: str, method: str = "GET", body: Any = None) -> Reply:
    """What a browser sends to ``<id>.cloudfront.localhost``: a loopback connection with that Host."""
    parts = urllib.parse.urlsplit(url)
    data = json.dumps(body).encode() if body is not None else None
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    try:
        headers = {"Host": parts.netloc, **({"Content-Type": "application/json"} if data is not None else {})}
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=data, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud() as cloud:
        yield cloud, cloud.deploy(demo_app.outdir, STACK)


@pytest.fixture(scope="module")
def site(deployed) -> str:
    cloud, stack = deployed
    return cloud.distribution_url(stack.outputs["DistributionId"])


def _table_count(cloud: LocalCloud, stack: Any) -> int:
    return int(cloud.client("dynamodb").scan(TableName=stack.outputs["TableName"], Select="COUNT")["Count"])


def _assert_security_headers(reply: Reply) -> None:
    missing = [h for h in SECURITY_HEADERS if h not in reply.headers]
    assert missing == [], f"{reply.status} lacks {missing}"
    assert reply.headers["content-security-policy"].startswith("default-src 'self'")
    assert reply.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains; preload"
    assert reply.headers["x-frame-options"] == "DENY"


def test_the_distribution_serves_the_deployed_page_and_its_assets(deployed, site) -> None:
    cloud, stack = deployed
    # GIVEN the site folder, deployed by the BucketDeployment
    keys = {o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=stack.outputs["BucketName"])["Contents"]}
    assert keys == {p.relative_to(SITE).as_posix() for p in SITE.rglob("*") if p.is_file()}
    # WHEN the page and its script are loaded through the distribution
    page, script = fetch(site + "/"), fetch(site + "/app.js")
    # THEN they are the folder's files, with their content types and the security headers
    assert (page.status, page.body) == (200, (SITE / "index.html").read_bytes())
    assert page.headers["content-type"] == "text/html"
    assert (script.status, script.body) == (200, (SITE / "app.js").read_bytes())
    assert script.headers["content-type"] in ("text/javascript", "application/javascript")
    _assert_security_headers(page)


def test_items_added_through_the_same_origin_are_listed(deployed, site) -> None:
    cloud, stack = deployed
    before = _table_count(cloud, stack)
    names = [f"item {n}" for n in range(3)]
    created = [fetch(site + "/api/items", "POST", {"name": name}) for name in names]
    assert [r.status for r in created] == [201, 201, 201]
    _assert_security_headers(created[0])
    listed = fetch(site + "/api/items")
    assert listed.status == 200
    listed_names = [i["name"] for i in listed.json()["items"]]
    assert listed_names[:3] == list(reversed(names))  # newest first
    assert _table_count(cloud, stack) == before + 3
    _assert_security_headers(listed)


def test_client_side_routes_fall_back_to_the_page(site) -> None:
    page = (SITE / "index.html").read_bytes()
    for path in ("/items/42", "/settings", "/missing.png"):
        reply = fetch(site + path)
        assert (path, reply.status, reply.body) == (path, 200, page)
        _assert_security_headers(reply)


def test_a_nameless_item_is_refused_with_400_through_the_distribution_and_writes_nothing(deployed, site) -> None:
    cloud, stack = deployed
    before = _table_count(cloud, stack)
    for body in ({"name": ""}, {}, {"name": "x", "extra": 1}):
        reply = fetch(site + "/api/items", "POST", body)
        assert reply.status == 400, (body, reply.body)
        assert "message" in reply.json()
        _assert_security_headers(reply)
    assert _table_count(cloud, stack) == before


def test_the_site_refuses_write_methods(site) -> None:
    reply = fetch(site + "/index.html", "PUT", {"name": "x"})
    assert reply.status == 403
    _assert_security_headers(reply)


def test_assets_are_never_served_from_the_bucket_directly(deployed) -> None:
    cloud, stack = deployed
    bucket = stack.outputs["BucketName"]
    # An unsigned GET to the S3 endpoint is refused.
    endpoint = cloud.core.handler_env["AWS_ENDPOINT_URL"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{endpoint}/{bucket}/index.html", timeout=10)
    assert refused.value.code == 403
    # The deployed policy admits CloudFront for this distribution only, never anonymous callers.
    policy = json.loads(cloud.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    own = f"arn:aws:cloudfront::{cloud.account_id}:distribution/{stack.outputs['DistributionId']}"
    service = {"Service": "cloudfront.amazonaws.com"}
    resource = f"arn:aws:s3:::{bucket}/index.html"
    tls = {"aws:SecureTransport": "true"}
    assert bucket_policy_decision(policy, service, "s3:GetObject", resource, {**tls, "AWS:SourceArn": own}) == "Allow"
    other = {**tls, "AWS:SourceArn": own[:-1] + "X"}
    assert bucket_policy_decision(policy, service, "s3:GetObject", resource, other) == "None"
    assert bucket_policy_decision(policy, {"AWS": "*"}, "s3:GetObject", resource, tls) == "None"
    public = cloud.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(public.values())


def test_the_demo_drive_passes_against_the_local_cloud(deployed) -> None:
    cloud, stack = deployed
    ctx = drive_context(cloud, stack, distribution_url=distribution_url_mapper(cloud.distribution_url))
    result = demo.drive(ctx)
    assert result.ok, result.outcome
