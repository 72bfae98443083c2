"""The health checks the ScheduledService function runs and what one run finds (CATALOG 10)."""

from __future__ import annotations

from pydantic import BaseModel, Field, TypeAdapter


class Check(BaseModel):
    """One URL to GET; the construct writes the list of checks to the ``CHECKS`` variable."""

    name: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    expected_status: list[int] = Field(default=[200], min_length=1)
    max_latency_ms: int = Field(default=2000, gt=0)
    body_contains: str | None = None


CHECK_LIST = TypeAdapter(list[Check])


class Result(BaseModel):
    """What one check found. ``reasons`` is empty exactly when the check passed."""

    name: str
    url: str
    status: int | None
    latency_ms: int
    reasons: list[str]

    @property
    def ok(self) -> bool:
        return not self.reasons
