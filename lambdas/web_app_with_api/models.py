"""The item the web app adds: the same limits as the API's request model (patterns/web_app_with_api.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NewItem(BaseModel):
    """The body of ``POST /api/items``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)


class Item(NewItem):
    """A stored item: its id and when it was added (ISO 8601, UTC)."""

    id: str
    created_at: str
