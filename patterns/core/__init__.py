"""Shared building blocks: every default of the library lives here, once.

Patterns call these builders instead of constructing queues, DLQs, functions, tables, topics,
APIs or alarms by hand.
"""

from . import nag, validation
from .alarms import AlarmOptions, PatternAlarms
from .api import ApiOptions, json_model, rest_api, validation_error_responses, validator
from .assets import ASSET_EXCLUDE, handler_code, handler_dir, lambdas_dir
from .buckets import access_log_bucket, bucket
from .events import lambda_target
from .functions import (
    ARCHITECTURE,
    POWERTOOLS_LAYER_VERSION,
    RUNTIME,
    FunctionOptions,
    powertools_layer_arn,
    python_function,
)
from .queues import MAX_RECEIVE_COUNT, QueuePair, consume, dead_letter_queue, queue_with_dlq
from .streams import consume_stream
from .tables import IDEMPOTENCY_KEY, IDEMPOTENCY_TTL, grant_idempotency, idempotency_table, table
from .topics import topic

__all__ = [
    "ARCHITECTURE",
    "ASSET_EXCLUDE",
    "IDEMPOTENCY_KEY",
    "IDEMPOTENCY_TTL",
    "MAX_RECEIVE_COUNT",
    "POWERTOOLS_LAYER_VERSION",
    "RUNTIME",
    "AlarmOptions",
    "ApiOptions",
    "FunctionOptions",
    "PatternAlarms",
    "QueuePair",
    "access_log_bucket",
    "bucket",
    "consume",
    "consume_stream",
    "dead_letter_queue",
    "grant_idempotency",
    "handler_code",
    "handler_dir",
    "idempotency_table",
    "json_model",
    "lambda_target",
    "lambdas_dir",
    "nag",
    "powertools_layer_arn",
    "python_function",
    "queue_with_dlq",
    "rest_api",
    "table",
    "topic",
    "validation",
    "validation_error_responses",
    "validator",
]
