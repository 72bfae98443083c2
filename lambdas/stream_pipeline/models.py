"""What the transform reads from the stream (one JSON object per record) and what it writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BadRecord(ValueError):
    """A record that can never be transformed (not UTF-8, not JSON, not an object)."""

    def __init__(self, sequence_number: str, reason: str) -> None:
        super().__init__(f"record {sequence_number}: {reason}")
        self.sequence_number = sequence_number


class Transformed(BaseModel):
    """One record after the transform: its stream coordinates, its arrival and its JSON object."""

    model_config = ConfigDict(frozen=True)

    partition_key: str = Field(min_length=1, max_length=256)
    sequence_number: str = Field(min_length=1)
    arrived_at: str
    data: dict[str, Any]

    def item(self) -> dict[str, Any]:
        """The table item (DynamoDB JSON), keyed by partition key and sequence number."""
        return {
            "partition_key": {"S": self.partition_key},
            "sequence_number": {"S": self.sequence_number},
            "arrived_at": {"S": self.arrived_at},
            "payload": {"S": json.dumps(self.data, separators=(",", ":"), sort_keys=True)},
        }

    def line(self) -> bytes:
        """The archive line: one JSON object and a newline (Firehose adds no delimiter)."""
        return (self.model_dump_json() + "\n").encode()


def transform(partition_key: str, sequence_number: str, arrival: float, data: bytes) -> Transformed:
    """The record's JSON object with its coordinates; BadRecord for anything that is not one."""
    try:
        body: Any = json.loads(data.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadRecord(sequence_number, f"not UTF-8 JSON ({error})") from None
    if not isinstance(body, dict):
        raise BadRecord(sequence_number, f"a record must be a JSON object (got {type(body).__name__})")
    arrived = datetime.fromtimestamp(arrival, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Transformed(partition_key=partition_key, sequence_number=sequence_number, arrived_at=arrived, data=body)
