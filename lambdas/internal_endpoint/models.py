"""What the InternalEndpoint functions exchange (CATALOG 13): a price quote for an order."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class LineItem(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)
    unit_price_cents: int = Field(ge=0)


class QuoteRequest(BaseModel):
    """The worker's input."""

    order_id: str = Field(min_length=1, max_length=64)
    items: list[LineItem] = Field(min_length=1, max_length=100)
    discount_percent: int = Field(default=0, ge=0, le=100)


class Quote(BaseModel):
    """The worker's result."""

    order_id: str
    item_count: int
    subtotal_cents: int
    discount_cents: int
    total_cents: int


class CallRequest(BaseModel):
    """The caller's input: how to call the worker and with what."""

    mode: Literal["sync", "async"]
    payload: dict[str, Any]
