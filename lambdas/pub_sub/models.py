"""The coffee-shop order event the demo publishes (CATALOG 5)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Order(BaseModel):
    order_id: str = Field(min_length=1, max_length=64)
    store: str = Field(min_length=1)
    drink: str = Field(min_length=1)
    size: Literal["small", "medium", "large"] = "medium"
    status: Literal["placed", "making", "ready", "cancelled"]
    barista: str | None = None


class RankedOrder(Order):
    """Leaderboard entries credit a barista, so an order without one cannot be ranked."""

    barista: str = Field(min_length=1)
