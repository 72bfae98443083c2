"""Timestamps as AWS writes them; a leaf of the delivery package (pollers and targets use it)."""

from __future__ import annotations

import time


def iso_now(at: float | None = None) -> str:
    """AWS-style UTC timestamp with milliseconds."""
    at = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"
