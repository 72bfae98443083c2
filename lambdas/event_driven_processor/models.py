"""The S3 event notification as it arrives in an SQS message body (CATALOG 11).

Only the fields the processor uses are modelled, and everything else is ignored: Powertools'
``S3RecordModel`` also requires fields (``ownerIdentity``, ``userIdentity``, ``requestParameters``)
that S3-compatible emitters and the local cloud omit. The ``s3:TestEvent`` S3 sends when a
notification is configured parses to no objects.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, Field, TypeAdapter


class S3Bucket(BaseModel):
    name: str = Field(min_length=3)


class S3Object(BaseModel):
    key: str = Field(min_length=1)  #: URL-encoded, as S3 sends it
    size: int | None = None
    eTag: str | None = None
    versionId: str | None = None
    sequencer: str | None = None


class S3Entity(BaseModel):
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(BaseModel):
    eventSource: Literal["aws:s3"]
    eventName: str
    eventTime: str
    s3: S3Entity


class S3Notification(BaseModel):
    Records: list[S3EventRecord] = Field(min_length=1)


class S3TestEvent(BaseModel):
    Event: Literal["s3:TestEvent"]


class ObjectRef(BaseModel):
    """One object write: what is processed, and (all fields together) the idempotency key."""

    bucket: str
    key: str  #: decoded
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    size: int | None = None

    @classmethod
    def of(cls, record: S3EventRecord) -> ObjectRef:
        obj = record.s3.object
        return cls(
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),
            version_id=obj.versionId,
            etag=obj.eTag,
            sequencer=obj.sequencer,
            size=obj.size,
        )


_BODY = TypeAdapter(S3Notification | S3TestEvent)


def objects_created(body: str) -> list[ObjectRef]:
    """The objects an SQS message body says were created; [] for a test event.

    Folder markers (keys ending in "/", which the S3 console creates) are not objects to handle.
    Raises ``pydantic.ValidationError`` for a body that is not an S3 notification.
    """
    parsed = _BODY.validate_json(body)
    if isinstance(parsed, S3TestEvent):
        return []
    refs = [ObjectRef.of(r) for r in parsed.Records if r.eventName.startswith("ObjectCreated:")]
    return [ref for ref in refs if not ref.key.endswith("/")]
