"""The S3 event notification as it arrives in an SQS message body, and user keys (CATALOG 12).

Only the fields the handlers use are modelled, and everything else is ignored: Powertools'
``S3RecordModel`` also requires fields (``ownerIdentity``, ``userIdentity``, ``requestParameters``)
that S3-compatible emitters and the local cloud omit. The ``s3:TestEvent`` S3 sends when a
notification is configured parses to no objects.
"""

from __future__ import annotations

import re
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
    eventTime: str = Field(min_length=20)  #: ISO 8601 UTC with milliseconds: sorts as text
    s3: S3Entity


class S3Notification(BaseModel):
    Records: list[S3EventRecord] = Field(min_length=1)


class S3TestEvent(BaseModel):
    Event: Literal["s3:TestEvent"]


class ObjectRef(BaseModel):
    """One object write: what is handled, and (all fields together) the thumbnailer's idempotency key."""

    bucket: str
    key: str  #: decoded
    event_time: str
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
            event_time=record.eventTime,
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


_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class BadKey(ValueError):
    """The key does not name a user the way the pattern requires; retrying cannot help."""


def user_file(key: str, prefix: str) -> tuple[str, str]:
    """Split ``<prefix><user_id>/<file>`` into the user id and the file name."""
    if not key.startswith(prefix):
        raise BadKey(f"key {key!r} is not under {prefix!r}")
    user_id, slash, file = key[len(prefix):].partition("/")
    if not slash or not file or file.endswith("/"):
        raise BadKey(f"key {key!r} must look like {prefix}<user_id>/<file>")
    if not _USER_ID.fullmatch(user_id):
        raise BadKey(f"user id {user_id!r} in key {key!r} must be 1-128 letters, digits, '_' or '-'")
    return user_id, file
