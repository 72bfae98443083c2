"""The S3 event notification both the workers and the fan-in read (CATALOG 6).

Workers get it through SNS with raw message delivery, the fan-in both that way (uploads) and
straight from the renditions bucket: either way the SQS body is S3's notification JSON. S3 also
sends an ``s3:TestEvent`` when a notification configuration is written; it carries no records.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field


class S3Object(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1)
    size: int = Field(default=0, ge=0)
    e_tag: str = Field(alias="eTag", min_length=1)

    @property
    def decoded_key(self) -> str:
        """S3 URL-encodes keys in notifications (a space arrives as ``+``)."""
        return unquote_plus(self.key)


class S3Bucket(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)


class S3Entity(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: S3Bucket
    object: S3Object


class S3Record(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_name: str = Field(alias="eventName")
    s3: S3Entity


class Upload(BaseModel):
    """One object that was created: the unit of work of a worker and of the fan-in."""

    bucket: str
    key: str
    etag: str
    size: int


class S3Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    records: list[S3Record] = Field(default_factory=list, alias="Records")
    event: str | None = Field(default=None, alias="Event")

    def uploads(self) -> list[Upload]:
        """The created objects of this notification; raises on a body that is no S3 notification."""
        if not self.records and self.event != "s3:TestEvent":
            raise ValueError("not an S3 event notification: no Records and no s3:TestEvent")
        return [
            Upload(bucket=r.s3.bucket.name, key=r.s3.object.decoded_key, etag=r.s3.object.e_tag.strip('"'),
                   size=r.s3.object.size)
            for r in self.records
            if r.event_name.startswith("ObjectCreated:")
        ]
