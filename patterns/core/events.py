"""EventBridge targets with a DLQ and a bounded retry policy."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

#: Defaults of ``lambda_target``: EventBridge retries before the event goes to the target DLQ.
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(1)


def lambda_target(
    function: lambda_.IFunction,
    *,
    dead_letter_queue: sqs.IQueue,
    retry_attempts: int = RETRY_ATTEMPTS,
    max_event_age: Duration = MAX_EVENT_AGE,
) -> targets.LambdaFunction:
    """A rule target that parks undeliverable events in ``dead_letter_queue`` instead of dropping them."""
    return targets.LambdaFunction(
        function, dead_letter_queue=dead_letter_queue, retry_attempts=retry_attempts, max_event_age=max_event_age
    )
