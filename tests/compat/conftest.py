"""The compatibility suite: plain aws-cdk-lib apps, written from the AWS docs and the CDK API.

None of them uses this library's constructs. Each module synthesizes its apps once (synth is the
slow part), deploys them into a LocalCloud and drives them the way a user would: put events,
send messages, sign in, call the API; then asserts what a user would observe.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from patterns.local import LocalCloud

from ..local.apigateway_fixtures import CDK_ENV

for _key, _value in CDK_ENV.items():
    os.environ.setdefault(_key, _value)

#: A handler that keeps nothing and returns what it got: the journal shows each event.
ECHO = "def handler(event, context):\n    return event\n"


def synthesize(build: Callable[[Any], None]) -> dict[str, dict[str, Any]]:
    """Every stack ``build(app)`` adds, synthesized once: stack name -> template."""
    import aws_cdk as cdk

    app = cdk.App(builtin_cloud_formation_validation=False)  # schema validation is not under test here
    build(app)
    assembly = app.synth()
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def stack(app: Any, name: str) -> Any:
    """A stack the way ``cdk init`` makes one, minus the bootstrap version rule (no bootstrap locally)."""
    import aws_cdk as cdk

    return cdk.Stack(app, name, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


def function(scope: Any, construct_id: str, code: str = ECHO, **kwargs: Any) -> Any:
    """A Python Lambda function with inline code, as the CDK docs' examples write them."""
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Function(
        scope,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline(code),
        **kwargs,
    )


def received(cloud: LocalCloud, function_name: str) -> list[Any]:
    """The events a function was invoked with, oldest first."""
    return [invocation.event for invocation in cloud.invocations(function_name)]


def bodies(cloud: LocalCloud, queue_url: str) -> list[Any]:
    """The bodies of the messages in a queue (JSON parsed where they are JSON), received once."""
    sqs = cloud.client("sqs")
    found: list[Any] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not batch:
            return found
        for message in batch:
            try:
                found.append(json.loads(message["Body"]))
            except ValueError:
                found.append(message["Body"])


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    """One local cloud (with its HTTP front door) for this package: starting one is the slow part.

    Each module deploys its own stacks (own names), so the apps do not see each other. Package
    scope: it stops before other test packages start theirs (one local cloud per process).
    """
    with LocalCloud() as local:
        yield local
