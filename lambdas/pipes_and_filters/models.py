"""The order records of the PipesAndFilters demo (CATALOG 9), as each filter sees them."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt, field_validator


class OrderLine(BaseModel):
    """What the producer sends: validated and normalized by the ``validate`` filter."""

    customer: str = Field(min_length=1, max_length=128)
    sku: str = Field(min_length=1, max_length=32)
    quantity: StrictInt = Field(ge=1, le=1000)

    @field_validator("customer", "sku")
    @classmethod
    def strip(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("must not be blank")
        return stripped


class EnrichedLine(OrderLine):
    """After ``enrich``: the product's name and unit price from the product table."""

    product: str
    unit_price_cents: StrictInt = Field(ge=0)


class PricedLine(EnrichedLine):
    """After ``price``: the amount due."""

    discount_percent: StrictInt = Field(ge=0, le=100)
    total_cents: StrictInt = Field(ge=0)
