"""Messages of the MapReduce pattern (CATALOG 7): the splitter's request and the chunk a mapper gets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SplitRequest(BaseModel):
    """Start a word count of ``key`` in the input bucket.

    ``job_id`` makes a retried request safe: the same id and document re-send the same chunks
    (which mappers count once) instead of starting a second job. Default: a new id.
    """

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=1024)
    job_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class Chunk(BaseModel):
    """Bytes ``[start, end)`` of one version (``etag``) of the document: chunk ``chunk`` of ``chunks``."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    chunk: int = Field(ge=0)
    chunks: int = Field(ge=1)
    key: str = Field(min_length=1)
    etag: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Chunk:
        if self.chunk >= self.chunks:
            raise ValueError(f"chunk {self.chunk} is out of range for a job of {self.chunks} chunks")
        if self.end <= self.start:
            raise ValueError(f"byte range [{self.start}, {self.end}) is empty")
        return self

    @property
    def chunk_id(self) -> str:
        """The sort key of its partial result and its member of the job's ``done`` set."""
        return chunk_id(self.chunk)


def chunk_id(index: int) -> str:
    return f"{index:06d}"
