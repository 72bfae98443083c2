"""The three filters of the PipesAndFilters demo: validate → enrich → price.

Each is a plain function from the record's data to its new data, wrapped by ``pipe.filter_step``
into its step's handler. A filter signals a fault by raising: the record is retried and then parked
in that step's DLQ, e.g. ``enrich`` for a product the product table does not list (yet).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from models import EnrichedLine, OrderLine, PricedLine
from pipe import filter_step

#: Lines of at least this quantity get BULK_DISCOUNT_PERCENT off.
BULK_QUANTITY = 10
BULK_DISCOUNT_PERCENT = 10
# Only the enrich step is given the product table; the other steps import this module too.
PRODUCTS_TABLE_NAME = os.environ.get("PRODUCTS_TABLE_NAME")


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def products() -> Any:
    return boto3.resource("dynamodb").Table(PRODUCTS_TABLE_NAME) if PRODUCTS_TABLE_NAME else None


class ProductNotFound(LookupError):
    """The product table has no entry for this SKU: a fault fixed by adding the product, then redriving."""


def normalize(data: dict[str, Any]) -> dict[str, Any]:
    """Reject malformed lines; upper-case the SKU so later filters see one spelling."""
    line = OrderLine.model_validate(data)
    return line.model_copy(update={"sku": line.sku.upper()}).model_dump()


def add_product(data: dict[str, Any]) -> dict[str, Any]:
    """Look the SKU up in the product table (``PRODUCTS_TABLE_NAME``)."""
    line = OrderLine.model_validate(data)
    if products() is None:
        raise RuntimeError("the enrich filter needs PRODUCTS_TABLE_NAME (the product table)")
    item = products().get_item(Key={"sku": line.sku}).get("Item")
    if item is None:
        raise ProductNotFound(f"no product {line.sku!r} in the product table")
    price = int(item["unit_price_cents"])
    return EnrichedLine(**line.model_dump(), product=str(item["name"]), unit_price_cents=price).model_dump()


def add_total(data: dict[str, Any]) -> dict[str, Any]:
    """Price the line, with the bulk discount."""
    line = EnrichedLine.model_validate(data)
    discount = BULK_DISCOUNT_PERCENT if line.quantity >= BULK_QUANTITY else 0
    total = line.quantity * line.unit_price_cents * (100 - discount) // 100
    return PricedLine(**line.model_dump(), discount_percent=discount, total_cents=total).model_dump()


validate = filter_step(normalize)
enrich = filter_step(add_product)
price = filter_step(add_total)
