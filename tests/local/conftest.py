"""Fixtures of the local cloud tests: synthesize small CDK apps once per module, a fresh cloud per test."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud

from .apigateway_fixtures import CDK_ENV

for _key, _value in CDK_ENV.items():
    os.environ.setdefault(_key, _value)


def write_handler(folder: Path, files: dict[str, str]) -> str:
    """Write a handler asset folder (file name → source) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(source).lstrip())
    return str(folder)


def synth(outdir: Path, build: Callable[[Any], None]) -> Path:
    """Synthesize the stacks ``build(app)`` adds into ``outdir`` (a cloud assembly)."""
    import aws_cdk as cdk

    app = cdk.App(outdir=str(outdir))
    build(app)
    app.synth()
    return outdir


def python_function(scope: Any, construct_id: str, code_dir: str, **kwargs: Any) -> Any:
    """A Python function of the runtime the library uses, with an explicit log group."""
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    kwargs.setdefault("handler", "app.handler")
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_DAY)
    return lambda_.Function(
        scope,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        code=lambda_.Code.from_asset(code_dir),
        log_group=log_group,
        **kwargs,
    )


def inline_function(scope: Any, construct_id: str, source: str, runtime: Any = None, **kwargs: Any) -> Any:
    """A Python function (Python 3.13 unless told) whose ``index.handler`` is inline code."""
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Function(
        scope,
        construct_id,
        runtime=runtime or lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline(source),
        **kwargs,
    )


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    """A fresh in-process local cloud (no HTTP front door: these tests do not need it)."""
    with LocalCloud(front_door=False) as local:
        yield local


def messages(cloud: LocalCloud, queue_url: str) -> list[dict[str, Any]]:
    """Every message currently in a queue (received once, then made visible again)."""
    sqs = cloud.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
        ).get("Messages", [])
        if not batch:
            break
        found.extend(batch)
    for message in found:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return found
