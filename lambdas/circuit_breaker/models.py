"""What a caller sends the breaker: an idempotency key for the downstream and the payload it forwards."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Call(BaseModel):
    """One call through the breaker. ``request_id`` lets the downstream apply a retried call once."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")
    payload: dict[str, Any] = Field(default_factory=dict)
