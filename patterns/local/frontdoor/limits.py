"""The request limits API Gateway enforces: throttling (token buckets) and usage plan quotas.

API Gateway throttles with a token bucket per limit: ``burstLimit`` tokens at most, refilled at
``rateLimit`` per second; a request that finds the bucket empty is answered 429 ``Too Many
Requests`` (THROTTLED) and never reaches the integration. Limits come from a REST stage's method
settings (``*/*`` or one resource/method), a usage plan (per API key, overall and per method via
``ApiStages[].Throttle``) and an HTTP API stage's default/route settings. A usage plan quota counts
the requests of one key per DAY/WEEK/MONTH (UTC, shifted by ``offset`` days); over it the answer
is 429 ``Limit Exceeded`` (QUOTA_EXCEEDED). Time is the local cloud's clock, so ``advance()``
refills buckets and starts a new quota period.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Limits:
    """Token buckets and quota counters of one front door, keyed by what they limit."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[Any, ...], _Bucket] = {}
        self._quotas: dict[tuple[Any, ...], tuple[Any, int]] = {}

    def take(self, key: tuple[Any, ...], rate: Any, burst: Any) -> bool:
        """Take one token from the bucket of ``key``; False (throttled) when it is empty.

        ``rate``/``burst`` None (or unparsable) mean that dimension is not limited; a burst of 0
        lets nothing through, as on AWS.
        """
        rate_value, burst_value = _number(rate), _number(burst)
        if rate_value is None and burst_value is None:
            return True
        capacity = burst_value if burst_value is not None else max(1.0, rate_value or 0.0)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now)
            elif rate_value is not None:
                bucket.tokens = min(capacity, bucket.tokens + max(0.0, now - bucket.updated) * rate_value)
            else:
                bucket.tokens = min(capacity, bucket.tokens)
            bucket.updated = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def count(self, key: tuple[Any, ...], quota: dict[str, Any]) -> bool:
        """Count one request against a quota (``limit``, ``period``, ``offset``); False when over it."""
        limit = _number(quota.get("limit"))
        if limit is None:
            return True
        period = _period(self._clock(), str(quota.get("period") or "DAY").upper(), int(quota.get("offset") or 0))
        with self._lock:
            seen_period, used = self._quotas.get(key, (period, 0))
            if seen_period != period:
                used = 0
            if used >= limit:
                self._quotas[key] = (period, used)
                return False
            self._quotas[key] = (period, used + 1)
            return True

    def reset(self) -> None:
        """Forget every bucket and counter (a redeploy of limits keeps them on AWS; tests may not)."""
        with self._lock:
            self._buckets.clear()
            self._quotas.clear()


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _period(now: float, period: str, offset: int) -> tuple[Any, ...]:
    """Which quota period ``now`` falls in: the UTC day, week or month, shifted by ``offset`` days."""
    day = datetime.datetime.fromtimestamp(now, tz=datetime.UTC).date() - datetime.timedelta(days=offset)
    if period == "WEEK":
        # Weeks start on Sunday (offset 0) as usage plan quotas count them.
        start = day - datetime.timedelta(days=(day.weekday() + 1) % 7)
        return ("WEEK", start.isoformat())
    if period == "MONTH":
        return ("MONTH", day.year, day.month)
    return ("DAY", day.isoformat())


def method_setting(settings: dict[str, Any], resource_path: str, method: str) -> dict[str, Any]:
    """The REST stage method settings that apply to one resource/method (most specific wins).

    Keys are ``*/*`` or ``<escaped path>/<METHOD>`` (``~1items~1{id}/GET``; CloudFormation's
    ``ResourcePath`` already escapes ``/`` as ``~1`` and may keep a leading slash).
    """
    best: tuple[int, dict[str, Any]] | None = None
    for key, value in (settings or {}).items():
        path_part, _, method_part = key.rpartition("/")
        path = path_part.replace("~1", "/")
        path = "/" + path.lstrip("/") if path not in ("*", "/*") else "*"
        if path != "*" and path != resource_path:
            continue
        if method_part not in ("*", method):
            continue
        rank = (path != "*") * 2 + (method_part != "*")
        if best is None or rank > best[0]:
            best = (rank, value)
    return best[1] if best else {}
