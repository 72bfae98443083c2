"""What the Deduplication function reads from the stream: one JSON event with an id."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IncomingEvent(BaseModel):
    """One producer event. Only the id matters to deduplication; the rest is stored as it came."""

    model_config = ConfigDict(extra="allow")

    event_id: str = Field(min_length=1, max_length=1024)


def parse(data: bytes, id_field: str) -> tuple[IncomingEvent, str]:
    """The event and its original JSON text; ValueError (pydantic's included) for anything else."""
    text = data.decode("utf-8")
    body: Any = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError("an event must be a JSON object")
    raw_id = body.get(id_field)
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise ValueError(f"an event needs a string or integer {id_field!r}")
    return IncomingEvent(event_id=str(raw_id)), text
