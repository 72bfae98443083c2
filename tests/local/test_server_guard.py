"""A page from another origin can neither read from nor change a running local cloud server.

Each test sends what a browser sends (preflight, simple POST, form POST, a rebinding Host) at a
real server over HTTP, and then checks that nothing changed.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from patterns.local import LocalCloudServer, control
from patterns.local.guard import SECRET_HEADER, Guard, host_allowed

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalCloudServer]:
    with LocalCloudServer(front_door=False, allowed_origins=["http://localhost:3000"]) as running:
        running.client("sqs").create_queue(QueueName="precious")
        yield running


def _send(
    server: LocalCloudServer, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Host": f"localhost:{server.port}", **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _queues(server: LocalCloudServer) -> list[str]:
    return list(server.client("sqs").list_queues(QueueNamePrefix="precious").get("QueueUrls", []))


def test_a_cross_origin_preflight_is_refused_and_nothing_is_reflected(server: LocalCloudServer) -> None:
    # WHEN a foreign page preflights a DynamoDB call
    status, headers, _ = _send(
        server,
        "OPTIONS",
        "/",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target",
        },
    )

    # THEN it is refused and no CORS header lets the browser read anything
    assert status == 403
    assert not any(h.startswith("access-control-") for h in headers)


def test_simple_and_form_posts_from_another_origin_change_nothing(server: LocalCloudServer) -> None:
    # GIVEN the queue a page wants to delete and the stacks a page wants to reset
    (url,) = _queues(server)
    form = urllib.parse.urlencode({"Action": "DeleteQueue", "QueueUrl": url}).encode()
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}

    # WHEN a page form-POSTs the AWS query API, moto's reset and the control plane
    answers = [
        _send(server, "POST", "/", headers={"Origin": EVIL, **form_type}, body=form)[0],
        _send(server, "POST", "/moto-api/reset", headers={"Origin": EVIL, **form_type})[0],
        _send(server, "POST", "/_localcloud/drain", headers={"Origin": EVIL, **form_type})[0],
        # a no-referrer image or link: neither Origin nor Referer, but also no signature or secret
        _send(server, "GET", "/?" + form.decode())[0],
        _send(server, "POST", "/moto-api/reset")[0],
        _send(server, "POST", "/_localcloud/drain")[0],
        # and with a Referer of a foreign page instead of an Origin
        _send(server, "POST", "/", headers={"Referer": f"{EVIL}/attack.html", **form_type}, body=form)[0],
    ]

    # THEN every one is refused and the queue is still there
    assert answers == [403] * len(answers)
    assert _queues(server) == [url]


def test_a_rebinding_host_is_refused_even_with_valid_credentials(server: LocalCloudServer) -> None:
    # GIVEN a correctly signed request, but for a host name an attacker's DNS points at 127.0.0.1
    for host in ("evil.example", f"evil.example:{server.port}", "localhost:1", f"localhost.evil.example:{server.port}"):
        status, _, body = _send(server, "GET", "/", headers={"Host": host})
        # THEN it never reaches moto
        assert status == 403, host
        assert b"ForbiddenHost" in body
    # AND the names the CLI and S3 virtual-host buckets use pass the Host check
    assert host_allowed(f"localhost:{server.port}", server.port)
    assert host_allowed(f"cdk-assets.localhost:{server.port}", server.port)
    assert host_allowed(f"127.0.0.1:{server.port}", server.port)


def test_aws_requests_must_be_signed_with_the_servers_credentials(server: LocalCloudServer) -> None:
    def sqs(key: str, secret: str) -> Any:
        return boto3.client(
            "sqs",
            endpoint_url=server.endpoint,
            region_name=server.region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}),
        )

    # WHEN a client signs with an unknown key, or with the right key and a wrong secret
    with pytest.raises(ClientError) as unknown:
        sqs("AKIAFOREIGNKEY000000", "whatever").list_queues()
    with pytest.raises(ClientError) as forged:
        sqs(server.env["AWS_ACCESS_KEY_ID"], "localcloud-secret").list_queues()

    # THEN AWS's errors come back, and only the server's own credentials work
    assert unknown.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert forged.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert sqs(server.env["AWS_ACCESS_KEY_ID"], server.env["AWS_SECRET_ACCESS_KEY"]).list_queues()["QueueUrls"]


def test_the_control_plane_and_moto_api_need_the_servers_secret(server: LocalCloudServer) -> None:
    # WHEN a same-origin caller without the secret, with a wrong one, and with the right one asks
    without = _send(server, "GET", "/_localcloud/health")[0]
    wrong = _send(server, "GET", "/_localcloud/health", headers={SECRET_HEADER: "guess"})[0]
    right, _, body = _send(server, "GET", "/_localcloud/health", headers={SECRET_HEADER: server.secret})
    moto_api = _send(server, "GET", "/moto-api/data.json", headers={SECRET_HEADER: server.secret})[0]

    # THEN only the secret opens them; the client finds the secret the server recorded for this user
    assert (without, wrong, right, moto_api) == (403, 403, 200, 200)
    assert json.loads(body)["endpoint"] == server.endpoint
    assert control(server.endpoint).health()["ok"] is True
    assert control(server.endpoint, secret="guess").secret == "guess"


def test_an_allowlisted_origin_gets_cors_and_still_needs_a_signature(server: LocalCloudServer) -> None:
    app = "http://localhost:3000"
    # WHEN the allowlisted browser app preflights, then calls without a signature
    status, headers, _ = _send(server, "OPTIONS", "/", headers={"Origin": app, "Access-Control-Request-Method": "POST"})
    unsigned, unsigned_headers, _ = _send(server, "POST", "/", headers={"Origin": app})

    # THEN CORS answers for exactly that origin, and the AWS API still wants credentials
    assert status == 200 and headers["access-control-allow-origin"] == app
    assert unsigned == 403 and unsigned_headers["access-control-allow-origin"] == app


def test_the_guard_wraps_any_wsgi_app() -> None:
    # GIVEN a plain WSGI app behind a guard with a secret path and a credential
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"ok"]

    guard = Guard(app, port=4566, secret="s3cret", secret_paths=("/admin/",), credentials={"AKID": "secret"})

    def call(path: str, **headers: str) -> str:
        statuses: list[str] = []
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_HOST": "localhost:4566", **headers}
        b"".join(guard(environ, lambda status, _headers, *_: statuses.append(status)))
        return statuses[0]

    # THEN the secret opens the admin path, and nothing else reaches the app unsigned
    assert call("/admin/x", HTTP_X_LOCAL_CLOUD_SECRET="s3cret") == "200 OK"
    assert call("/admin/x").startswith("403")
    assert call("/data").startswith("403")
    assert seen == ["/admin/x"]
    # AND a user pool's JWKS and OpenID configuration are public, as on AWS (token verifiers fetch them
    # unsigned); a look-alike path is not
    assert call("/us-east-1_Abc123/.well-known/jwks.json") == "200 OK"
    assert call("/eu-central-1_Abc123/.well-known/openid-configuration") == "200 OK"
    assert call("/us-east-1_Abc123/.well-known/jwks.json/../../data").startswith("403")
    assert call("/queue/.well-known/jwks.json").startswith("403")
    assert seen[1:] == [
        "/us-east-1_Abc123/.well-known/jwks.json",
        "/eu-central-1_Abc123/.well-known/openid-configuration",
    ]


@pytest.mark.parametrize("signature", ["s3", "s3v4"])  # boto3's default presigned URL for us-east-1 is SigV2
def test_s3_presigned_urls_and_virtual_host_buckets_pass_the_guard(server: LocalCloudServer, signature: str) -> None:
    # GIVEN an object, and a presigned URL of it in virtual-host style (Host: <bucket>.localhost:PORT)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="uploads")
    s3.put_object(Bucket="uploads", Key="a b/c.txt", Body=b"hello")
    virtual = server.client("s3", config=Config(signature_version=signature, s3={"addressing_style": "virtual"}))
    url = urllib.parse.urlsplit(
        virtual.generate_presigned_url("get_object", Params={"Bucket": "uploads", "Key": "a b/c.txt"})
    )
    assert url.netloc == f"uploads.localhost:{server.port}"

    # WHEN it is fetched (query-string SigV4, bucket from the Host), and with a tampered key
    signed = _send(server, "GET", f"{url.path}?{url.query}", headers={"Host": url.netloc})
    tampered = _send(server, "GET", f"{url.path.replace('c.txt', 'd.txt')}?{url.query}", headers={"Host": url.netloc})

    # THEN the signed one is served and the tampered one is refused
    assert (signed[0], signed[2]) == (200, b"hello")
    assert tampered[0] == 403 and b"SignatureDoesNotMatch" in tampered[2]
