"""What travels from the intake to the consumer, and what GET /requests/{id} answers (CATALOG 3)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Request ids are UUIDs the intake assigns; anything else cannot be a known request.
REQUEST_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class WorkItem(BaseModel):
    """One accepted request on the queue; ``requestId`` is the idempotency key of its processing.

    Field names are camelCase: they are the JSON wire format the API and the tables share.
    """

    model_config = ConfigDict(extra="forbid")

    requestId: str = Field(pattern=REQUEST_ID_PATTERN)
    receivedAt: str = Field(min_length=1)
    payload: dict[str, Any] = Field(min_length=1)


class RequestStatus(BaseModel):
    """A request's state as the status table holds it."""

    requestId: str
    status: Literal["pending", "done"]
    receivedAt: str
    completedAt: str | None = None
