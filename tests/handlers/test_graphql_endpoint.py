"""Rung 4 for CATALOG 19 GraphQlEndpoint: the pricing function with AppSync's direct Lambda resolver event.

A price in cents becomes a label in the configured currency (symbol for the common ones, the code
otherwise); an item without a whole, non-negative ``priceCents`` (missing, negative, fractional,
boolean, text) raises, which AppSync turns into an error on ``priceLabel`` alone; an event for a
field the function does not resolve is refused.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import load_handler

EVENT = json.loads((Path(__file__).parent / "events" / "graphql_endpoint" / "price_label.json").read_text())


@dataclass
class Context:
    function_name: str = "GraphQlEndpointDemo-Pricing"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id: str = "0e1d2c3b-0000-4000-8000-000000000019"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 9_000


def _load(currency: str = "EUR") -> ModuleType:
    return load_handler("graphql_endpoint", "pricing", {"CURRENCY": currency})


@pytest.fixture(scope="module")
def pricing() -> ModuleType:
    return _load()


def _event(**source: Any) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    event["source"].update(source)
    return event


def test_labels_the_items_price_in_euros(pricing: ModuleType) -> None:
    assert pricing.handler(_event(), Context()) == "€12.50"
    assert pricing.handler(_event(priceCents=0), Context()) == "€0.00"
    assert pricing.handler(_event(priceCents=123456789), Context()) == "€1,234,567.89"


def test_other_currencies_use_their_symbol_or_their_code() -> None:
    assert _load("USD").handler(_event(priceCents=99), Context()) == "$0.99"
    assert _load("CHF").handler(_event(priceCents=730), Context()) == "7.30 CHF"


@pytest.mark.parametrize("price", [-5, 12.5, True, "1250", None], ids=["negative", "fraction", "bool", "text", "null"])
def test_fails_if_the_price_is_not_whole_non_negative_cents(pricing: ModuleType, price: Any) -> None:
    with pytest.raises(pricing.InvalidPrice, match="priceCents must be a whole number of cents >= 0"):
        pricing.handler(_event(priceCents=price), Context())


def test_fails_if_the_item_has_no_price_at_all(pricing: ModuleType) -> None:
    event = copy.deepcopy(EVENT)
    del event["source"]["priceCents"]
    with pytest.raises(pricing.InvalidPrice):
        pricing.handler(event, Context())


def test_fails_if_asked_for_a_field_it_does_not_resolve(pricing: ModuleType) -> None:
    event = copy.deepcopy(EVENT)
    event["info"]["fieldName"] = "notes"
    with pytest.raises(ValueError, match="notes"):
        pricing.handler(event, Context())
