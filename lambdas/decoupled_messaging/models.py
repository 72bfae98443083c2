"""The message contract between the producer and the consumer (CATALOG 2)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Message ids travel as SQS message bodies, idempotency keys and table keys: keep them plain.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
#: SQS send_message_batch takes at most 10 entries.
SQS_BATCH = 10


class Message(BaseModel):
    """One unit of work on the queue. ``id`` is the business id: the consumer applies each id once."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    kind: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)


class NewMessage(BaseModel):
    """What a caller hands the producer; without an ``id`` the producer assigns one.

    Passing your own ids makes a retried call safe end to end: the consumer deduplicates on them.
    """

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=ID_PATTERN)
    kind: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)


class ProduceRequest(BaseModel):
    """The producer's invocation payload: ``{"messages": [{"kind": ..., "payload": {...}}, ...]}``."""

    model_config = ConfigDict(extra="forbid")

    messages: list[NewMessage] = Field(min_length=1, max_length=500)


class ProduceResult(BaseModel):
    """Ids SQS accepted, and ids it refused (with its reason) that the caller may retry."""

    sent: list[str]
    failed: dict[str, str]
