"""The GraphQlEndpoint pricing function: computes ``Item.priceLabel`` as a direct AppSync Lambda resolver.

AppSync invokes it once per item it returns, with the item as ``source`` (a direct resolver: no
mapping templates, AppSync's own event). Powertools routes the event to the field's resolver; the
label is a plain function of the price, so the function reads no table and makes no AWS call. An
item without a valid ``priceCents`` raises, and AppSync answers that field with a GraphQL error
while the rest of the item is still returned.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import AppSyncResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = AppSyncResolver()

CURRENCY = os.environ.get("CURRENCY", "EUR")
#: Symbols of the common currencies; any other ISO 4217 code is written out ("12.50 CHF").
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


class InvalidPrice(ValueError):
    """The item has no whole, non-negative ``priceCents``."""


def price_label(price_cents: Any, currency: str = CURRENCY) -> str:
    """``1250`` → ``€12.50``; raises InvalidPrice for anything that is not a whole number of cents ≥ 0."""
    if isinstance(price_cents, bool) or not isinstance(price_cents, int) or price_cents < 0:
        raise InvalidPrice(f"priceCents must be a whole number of cents >= 0 (given {price_cents!r})")
    amount = f"{price_cents // 100:,}.{price_cents % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


@app.resolver(type_name="Item", field_name="priceLabel")
@tracer.capture_method
def resolve_price_label() -> str:
    event = app.current_event  # set by app.resolve() for the event being resolved
    source = (event.source if event is not None else None) or {}
    try:
        label = price_label(source.get("priceCents"))
    except InvalidPrice:
        metrics.add_metric(name="InvalidPrices", unit=MetricUnit.Count, value=1)
        logger.warning("item without a valid price", item_id=source.get("id"))
        raise
    metrics.add_metric(name="PricesLabelled", unit=MetricUnit.Count, value=1)
    return label


@logger.inject_lambda_context(correlation_id_path=correlation_paths.APPSYNC_RESOLVER)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return app.resolve(event, context)
