"""The local cloud wires the HTTP front door: API models installed, Lambda calls through the runtime."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .conftest import python_function, synth, write_handler

HANDLER = """
import json
import os


def handler(event, context):
    body = {"path": event["path"], "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api")
    code = write_handler(root / "api", {"app.py": HANDLER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_apigateway as apigateway

        stack = cdk.Stack(app, "ApiStack")
        apigateway.LambdaRestApi(stack, "Api", handler=python_function(stack, "Handler", code))

    return synth(root / "cdk.out", build)


def test_a_deployed_rest_api_is_served_and_runs_the_handler_in_process(assembly: Path) -> None:
    with LocalCloud() as cloud:
        # GIVEN a LambdaRestApi deployed into a cloud with its front door
        stack = cloud.deploy(assembly, "ApiStack")
        assert cloud.front_door_error is None

        # WHEN a request reaches the front door
        url = cloud.api_url("Api", stage="prod")
        with urllib.request.urlopen(f"{url}/orders/42", timeout=10) as response:
            body = json.loads(response.read())

        # THEN the handler ran in the local runtime with its own environment, recorded in the journal
        name = stack.resource_by_path("Handler").physical_id
        assert body == {"path": "/orders/42", "function": name}
        (call,) = cloud.invocations("Handler")
        assert call.source == "apigateway" and call.ok
