"""The command envelope every caller sends, and the payloads of the demo order commands (CATALOG 8)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError


class CommandEnvelope(BaseModel):
    """``{command, version, payload}``: what the router accepts; unknown fields are a caller's typo."""

    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, max_length=64)
    version: StrictInt = Field(ge=1)
    payload: dict[str, Any]


class LineItem(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=1000)


class CreateOrderV1(BaseModel):
    """Version 1 clients order one item."""

    item: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=1000)


class CreateOrderV2(BaseModel):
    """Version 2 clients name the customer and order several items at once."""

    customer: str = Field(min_length=1, max_length=128)
    items: list[LineItem] = Field(min_length=1, max_length=50)


class CancelOrderV1(BaseModel):
    order_id: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=256)


def describe(error: ValidationError) -> str:
    """A one-line reason a caller can act on, e.g. ``version: Input should be a valid integer``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors())
