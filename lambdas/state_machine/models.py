"""What the StateMachine functions exchange (CATALOG 25): an order, its priced lines and its quote."""

from __future__ import annotations

from pydantic import BaseModel, Field

#: Shipping fee by method, in cents; express orders ship next day.
SHIPPING_CENTS = {"express": 900, "standard": 0}


class LineItem(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)
    unit_price_cents: int = Field(ge=0, le=10_000_000)


class Payment(BaseModel):
    card: str = Field(min_length=1, max_length=64)


class Order(BaseModel):
    """The workflow's input (the OrderPlaced event's detail, or the body of a quote request)."""

    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    customer: str = Field(min_length=1, max_length=128)
    items: list[LineItem] = Field(min_length=1, max_length=50)
    express: bool = False
    payment: Payment | None = None


class PricedLine(BaseModel):
    sku: str
    quantity: int
    line_total_cents: int


class Shipping(BaseModel):
    method: str
    days: int


class Quote(BaseModel):
    order_id: str
    subtotal_cents: int
    shipping_cents: int
    total_cents: int


def quote(order_id: str, lines: list[PricedLine], shipping: Shipping) -> Quote:
    """The one place totals are computed (the quote flow and the reservation agree by construction)."""
    subtotal = sum(line.line_total_cents for line in lines)
    fee = SHIPPING_CENTS[shipping.method]
    return Quote(order_id=order_id, subtotal_cents=subtotal, shipping_cents=fee, total_cents=subtotal + fee)
