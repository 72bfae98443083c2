"""What a StorageFirst API stores and its processor records (CATALOG 4).

API Gateway validates the request body against the JSON schema the construct derives from the same
limits before the request is stored; the processor validates again, because anything with access
to the queue or stream can write to it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

KIND_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class Submission(BaseModel):
    """The request body: what happened (``kind``) and its data."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=KIND_PATTERN)
    payload: dict[str, Any] = Field(default_factory=dict)


class StoredRequest(BaseModel):
    """A submission as the processor sees it: keyed by the id the store gave it when the API stored it
    (SQS message id or Kinesis sequence number), which is stable across redeliveries."""

    id: str = Field(min_length=1)
    store: Literal["sqs", "kinesis"]
    received_at: str
    submission: Submission
