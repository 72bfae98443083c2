"""Test helpers shared by the handler tests: loading a handler, and the SQS events Lambda hands it."""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"


class _SearchPaths(list[str]):
    """A loader's search paths that ignore repeats: every boto3 Session appends its own data folder."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


def share_botocore_loaders() -> None:
    """One botocore data loader per data path for the whole test process.

    Each new botocore Session parses the service models it needs again (DynamoDB's is ~1 MB of JSON),
    and moto's ``mock_aws`` and the handlers' own sessions make a new one per test: the handler suite
    spent a third of its CPU in ``json.loads``. The models on disk never change during a run, and botocore
    already shares one loader among all clients of a session, so sharing it among sessions changes what
    no test sees.
    """
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "_shared", False):
        return
    loaders: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        loader = loaders.get(search_path_string)
        if loader is None:
            loader = loaders[search_path_string] = create(search_path_string)
            loader._search_paths = _SearchPaths(loader.search_paths)
        return loader

    shared._shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = shared  # type: ignore[assignment]


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def load_handler(pattern: str, module: str, env: Mapping[str, str] | None = None) -> ModuleType:
    """Import ``lambdas/<pattern>/<module>.py`` fresh, as Lambda would, under ``env``.

    Handler folders reuse module names (``models``, ``app``); the modules a handler imports from its
    own folder are removed from ``sys.modules`` afterwards so another pattern's test gets its own.
    """
    folder = LAMBDAS / pattern
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        with environment(
            {
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "Tests",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                **(env or {}),
            }
        ):
            spec = importlib.util.spec_from_file_location(f"_handler_{pattern}_{module}", folder / f"{module}.py")
            assert spec and spec.loader
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(str(folder))
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(str(folder)):
                del sys.modules[name]
    return loaded


def sqs_record(
    body: str,
    *,
    queue_arn: str,
    sender_id: str = "AIDAIENQZJOLO23YVJ4VO",
    attributes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One record as Lambda's SQS poller delivers it, with a fresh message id and receipt handle.

    ``attributes`` become string message attributes (e.g. carried over by raw SNS delivery).
    """
    message_id = str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id.replace('-', '')}==",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795000000000",
            "SenderId": sender_id,
            "ApproximateFirstReceiveTimestamp": "1795000000100",
        },
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in (attributes or {}).items()
        },
        "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def sqs_event(*bodies: str, queue_arn: str, sender_id: str = "AIDAIENQZJOLO23YVJ4VO") -> dict[str, Any]:
    """An SQS event of one record per body (see ``sqs_record``)."""
    return {"Records": [sqs_record(body, queue_arn=queue_arn, sender_id=sender_id) for body in bodies]}


def sqs_record_like(sample: Mapping[str, Any], body: str) -> dict[str, Any]:
    """A copy of a recorded SQS record (``tests/handlers/events/*/sqs_record.json``) with a fresh
    message id and ``body``."""
    item = copy.deepcopy(dict(sample))
    item["messageId"] = str(uuid.uuid4())
    item["body"] = body
    return item


def failed_ids(response: Mapping[str, Any]) -> list[str]:
    """The message ids a partial batch response reports as failed, in its order."""
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]
