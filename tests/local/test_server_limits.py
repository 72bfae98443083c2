"""A running server answers bad input as AWS does: API Gateway's limits and encodings, validated
control-plane parameters, read timeouts on both ports, and a clear failure on a busy port."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloudServer
from patterns.local.guard import SECRET_HEADER

from .apigateway_fixtures import new_stack, physical_id, synthesize
from .conftest import inline_function

REPO = Path(__file__).resolve().parents[2]

ECHO = """
import json


def handler(event, context):
    body = event.get("body") or ""
    return {"statusCode": 200, "body": json.dumps({"base64": event["isBase64Encoded"], "body": body[:100]})}
"""

READ_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudServer]:
    def build(app: Any) -> list[str]:
        from aws_cdk import aws_apigateway as apigw

        stack = new_stack(app, "LimitsStack")
        echo = inline_function(stack, "Echo", ECHO)
        apigw.LambdaRestApi(stack, "Api", handler=echo, binary_media_types=["application/octet-stream"])
        return ["LimitsStack"]

    template = synthesize(build)["LimitsStack"]
    with LocalCloudServer(read_timeout=READ_TIMEOUT, state_dir=tmp_path_factory.mktemp("state")) as running:
        running.deploy_template(template, "LimitsStack")
        yield running


def _api(server: LocalCloudServer) -> tuple[str, int, str]:
    """(host, port, path prefix) of the deployed REST API's prod stage on the front door."""
    api_id = physical_id(server, "LimitsStack", "Api", "AWS::ApiGateway::RestApi")  # type: ignore[arg-type]
    url = server.api_url(api_id)
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    return host, int(port), "/" + path


def _post(server: LocalCloudServer, body: bytes, content_type: str, **headers: str) -> tuple[int, bytes]:
    host, port, prefix = _api(server)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("POST", f"{prefix}/echo", body=body, headers={"Content-Type": content_type, **headers})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _echo_calls(server: LocalCloudServer) -> int:
    return len(server.invocations())


def test_a_payload_over_10_mb_is_refused_with_413_before_the_function_runs(server: LocalCloudServer) -> None:
    before = _echo_calls(server)
    status, body = _post(server, b"x" * (10 * 1024 * 1024 + 1), "application/json")
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})
    assert _echo_calls(server) == before
    # AND exactly 10 MB still reaches the function
    assert _post(server, b"x" * (10 * 1024 * 1024), "text/plain")[0] == 200


def test_invalid_utf8_in_a_text_body_is_text_and_only_binary_media_types_are_base64(
    server: LocalCloudServer,
) -> None:
    status, body = _post(server, b'{"name": "caf\xe9"}', "application/json")
    assert status == 200
    assert json.loads(body) == {"base64": False, "body": '{"name": "caf\ufffd"}'}

    status, body = _post(server, b"\x00\xffbinary", "application/octet-stream")
    assert status == 200 and json.loads(body)["base64"] is True


@pytest.mark.parametrize("timeout", ["abc", "-5", "0", "nan", "inf", "1e9"])
def test_drain_parameters_are_validated(server: LocalCloudServer, timeout: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(
        "POST",
        f"/_localcloud/drain?timeout={timeout}",
        headers={"Host": f"localhost:{server.port}", SECRET_HEADER: server.secret},
    )
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    assert response.status == 400
    assert payload["error"] == "ValidationError" and repr(timeout) in payload["message"]


@pytest.mark.parametrize("port_of", ["moto", "front door"])
def test_connections_that_stop_sending_are_closed_after_the_read_timeout(
    server: LocalCloudServer, port_of: str
) -> None:
    port = server.port if port_of == "moto" else _api(server)[1]
    stalled = socket.create_connection(("127.0.0.1", port))
    slowloris = socket.create_connection(("127.0.0.1", port))
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        # a request announcing 11 MB and sending nothing, headers that never end, a silent socket
        stalled.sendall(f"POST / HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Length: 11534336\r\n\r\n".encode())
        slowloris.sendall(f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\nX-a: b\r\n".encode())
        started = time.monotonic()
        for sock in (stalled, slowloris, idle):
            sock.settimeout(READ_TIMEOUT + 10)
            while sock.recv(65536):  # whatever the server answers, it must then close
                pass
        assert time.monotonic() - started < READ_TIMEOUT + 5
    finally:
        for sock in (stalled, slowloris, idle):
            sock.close()


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "patterns.local", "serve", "--no-front-door", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_fails_at_once_on_a_busy_port(server: LocalCloudServer) -> None:
    started = time.monotonic()
    done = _serve("--port", str(server.port))
    assert done.returncode == 2
    assert f"port {server.port} is already in use" in done.stderr
    assert time.monotonic() - started < 30


def test_a_second_server_on_the_same_state_dir_refuses(server: LocalCloudServer) -> None:
    assert server.state_dir is not None
    state = server.state_dir / "server.json"
    record = json.loads(state.read_text())
    assert record["secret"] == server.secret and oct(state.stat().st_mode)[-3:] == "600"

    done = _serve("--state-dir", str(server.state_dir))

    assert done.returncode == 2
    assert "is in use by another running local cloud server" in done.stderr
    # AND the running server's record is untouched
    assert json.loads(state.read_text()) == record
