"""The item resource of the SimpleWebService API (CATALOG 1).

API Gateway validates request bodies against the JSON schema the construct derives from the same
limits; the handler validates again with these models (defence in depth: the function may be
invoked by something other than the API, or the API model may be relaxed by a user).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NAME_MAX = 200
DESCRIPTION_MAX = 2000
QUANTITY_MAX = 1_000_000


class ItemIn(BaseModel):
    """The body of POST (create) and PUT (replace): the fields a client owns."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    quantity: int = Field(default=0, ge=0, le=QUANTITY_MAX)


class Item(ItemIn):
    """A stored item: the client's fields plus the ones the service owns."""

    model_config = ConfigDict(extra="ignore", strict=False)

    id: str
    created_at: str
    updated_at: str
