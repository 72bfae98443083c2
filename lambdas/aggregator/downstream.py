"""A demo downstream service (one per part): answers after ``DELAY_MS``; a key naming this part
with ``fail-<part>`` makes it fail and ``slow-<part>`` makes it answer after ``SLOW_MS`` instead,
so the demo and the tests can show the aggregator's partial answers."""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
PART = os.environ["PART"]
DELAY_S = int(os.environ.get("DELAY_MS", "100")) / 1000
SLOW_S = int(os.environ.get("SLOW_MS", "3000")) / 1000


class DownstreamFailure(Exception):
    """The failure this part was asked to simulate."""


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    key = str(event.get("key", ""))
    if not key:
        raise ValueError("event has no key")
    if f"fail-{PART}" in key:
        raise DownstreamFailure(f"{PART} is down")
    time.sleep(SLOW_S if f"slow-{PART}" in key else DELAY_S)
    return {"part": PART, "key": key, "value": f"{PART} of {key}"}
