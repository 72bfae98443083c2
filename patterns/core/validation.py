"""Synth-time checks shared by every pattern.

Each check raises ``ValueError`` with what was given and how to fix it. Values that are still
unresolved tokens are not checked: they are only known at deploy time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aws_cdk import Duration, Token


def _is_token(value: Any) -> bool:
    return isinstance(value, (int, float, str)) and Token.is_unresolved(value)


def exclusive(**props: Any) -> None:
    """Raise when more than one of the keyword props is set (``existing_x`` vs ``x_props``)."""
    given = [name for name, value in props.items() if value is not None]
    if len(given) > 1:
        raise ValueError(
            f"{' and '.join(given)} cannot both be set: pass an existing resource or props for a new one, not both"
        )


def in_range(name: str, value: int | float | None, low: float, high: float, hint: str = "") -> None:
    """Raise when ``value`` lies outside ``[low, high]``."""
    if value is None or _is_token(value):
        return
    if not low <= value <= high:
        suffix = f" {hint}" if hint else ""
        raise ValueError(f"{name} must be between {low:g} and {high:g}{suffix} (given {value})")


def visibility_covers_consumer(
    queue_visibility: Duration | None, consumer_timeout: Duration, queue_name: str = "the queue"
) -> None:
    """AWS recommends a queue visibility timeout of at least 6x the consumer timeout.

    A shorter one lets SQS hand a message to a second consumer while the first still works on it,
    which is the most common source of duplicate processing.
    """
    if queue_visibility is None:
        return
    visible = queue_visibility.to_seconds()
    needed = consumer_timeout.to_seconds() * 6
    if _is_token(visible) or _is_token(needed):
        return
    if visible < needed:
        raise ValueError(
            f"{queue_name} visibility timeout ({visible:g} s) must be at least 6x the consumer "
            f"function timeout ({needed / 6:g} s -> {needed:g} s)"
        )


def sqs_batching(*, batch_size: int, max_batching_window: Duration | None, fifo: bool) -> None:
    """SQS event source limits, checked before CloudFormation rejects them."""
    if fifo:
        in_range("batch_size", batch_size, 1, 10, "for a FIFO queue")
        return
    in_range("batch_size", batch_size, 1, 10000)
    window = max_batching_window.to_seconds() if max_batching_window else 0
    if not _is_token(batch_size) and batch_size > 10 and not window:
        raise ValueError(f"batch_size above 10 needs max_batching_window of at least 1 second (given {batch_size})")


def concurrency(*, reserved: int | None, max_concurrency: int | None) -> None:
    """An SQS event source scales to at least 2 concurrent batches; fewer starves it.

    ``reserved`` is checked first: a pattern may default ``max_concurrency`` to it, and the message
    must name the prop the user set.
    """
    if reserved is not None and not _is_token(reserved) and reserved < 2:
        raise ValueError(
            f"reserved_concurrency must be at least 2 with an SQS event source (given {reserved}): "
            "the poller runs at least two batches at once and throttled batches count as receives"
        )
    in_range("max_concurrency", max_concurrency, 2, 1000)
    if (
        reserved is not None
        and max_concurrency is not None
        and not _is_token(reserved)
        and not _is_token(max_concurrency)
        and max_concurrency > reserved
    ):
        raise ValueError(
            f"max_concurrency ({max_concurrency}) cannot exceed reserved_concurrency ({reserved}): "
            "the extra batches would be throttled and count towards maxReceiveCount"
        )


def reserved(prop: str, given: Mapping[str, Any] | None, owned: Iterable[str], why: str = "") -> None:
    """The one rule where a user value meets a value the pattern owns: the pattern's keys are reserved.

    Used for environment variables, ``*_props`` overrides and every other mapping a pattern merges
    with its own values. Merging silently would let the pattern's value win (the user's is lost) or
    the user's win (the wiring breaks), so a clash is an error naming each key and the prop.
    """
    clash = sorted(set(given or {}) & set(owned))
    if not clash:
        return
    keys = ", ".join(f"{prop}[{key!r}]" for key in clash)
    verb = "is" if len(clash) == 1 else "are"
    reason = f": {why}" if why else ""
    raise ValueError(f"{keys} {verb} set by the pattern and cannot be overridden{reason}")


def merge_reserved(prop: str, given: Mapping[str, Any] | None, owned: Mapping[str, Any], why: str = "") -> dict:
    """``given`` merged with ``owned`` after ``reserved`` has checked that they share no key."""
    reserved(prop, given, owned, why)
    return {**(given or {}), **owned}
