"""Shared building blocks: every default of the library lives here, once.

Patterns call these builders instead of constructing queues, DLQs, functions, tables, topics,
APIs or alarms by hand.
"""

from . import auth, nag, validation
from .alarms import AlarmOptions, PatternAlarms
from .api import (
    ApiOptions,
    ValidatedApi,
    json_model,
    rest_api,
    validated_rest_api,
    validation_error_responses,
    validator,
)
from .assets import ASSET_EXCLUDE, handler_code, handler_dir, lambdas_dir
from .bucket_workers import BucketWorker, bucket_worker, check_no_trigger_loop
from .buckets import BucketPair, access_log_bucket, bucket, bucket_pair
from .events import lambda_target
from .firehose import s3_delivery_stream
from .functions import (
    ARCHITECTURE,
    POWERTOOLS_LAYER_VERSION,
    RUNTIME,
    FunctionOptions,
    powertools_layer_arn,
    python_function,
)
from .graphql import API_KEY_DAYS, InlineSchema, dynamodb_source, graphql_api, lambda_source, user_pool
from .jobs import JOB_KEY, STATUS_ATTRIBUTE, jobs_table, on_job_status
from .layers import PILLOW_VERSION, pillow_layer, pip_layer
from .notifications import bucket_notification
from .objects import grant_object_read, grant_object_write
from .queues import (
    MAX_RECEIVE_COUNT,
    QueuePair,
    check_existing_queue,
    consume,
    dead_letter_queue,
    queue_with_dlq,
)
from .routes import (
    HttpBackend,
    QueueBackend,
    Route,
    RouteTable,
    add_routes,
    check_routes,
    method_throttles,
    not_found_response,
)
from .state_machines import (
    TRANSIENT_LAMBDA_ERRORS,
    StateMachineOptions,
    acknowledge_task_invokes,
    lambda_task,
    state_machine,
)
from .streams import consume_stream, kinesis_stream
from .tables import IDEMPOTENCY_KEY, IDEMPOTENCY_TTL, grant_idempotency, idempotency_table, table
from .topics import grant_publish, topic

__all__ = [
    "API_KEY_DAYS",
    "ARCHITECTURE",
    "ASSET_EXCLUDE",
    "IDEMPOTENCY_KEY",
    "IDEMPOTENCY_TTL",
    "JOB_KEY",
    "MAX_RECEIVE_COUNT",
    "PILLOW_VERSION",
    "POWERTOOLS_LAYER_VERSION",
    "RUNTIME",
    "STATUS_ATTRIBUTE",
    "TRANSIENT_LAMBDA_ERRORS",
    "AlarmOptions",
    "ApiOptions",
    "BucketPair",
    "BucketWorker",
    "FunctionOptions",
    "HttpBackend",
    "InlineSchema",
    "PatternAlarms",
    "QueueBackend",
    "QueuePair",
    "Route",
    "RouteTable",
    "StateMachineOptions",
    "ValidatedApi",
    "access_log_bucket",
    "acknowledge_task_invokes",
    "add_routes",
    "auth",
    "bucket",
    "bucket_notification",
    "bucket_pair",
    "bucket_worker",
    "check_existing_queue",
    "check_no_trigger_loop",
    "check_routes",
    "consume",
    "consume_stream",
    "dead_letter_queue",
    "dynamodb_source",
    "grant_idempotency",
    "grant_object_read",
    "grant_object_write",
    "grant_publish",
    "graphql_api",
    "handler_code",
    "handler_dir",
    "idempotency_table",
    "jobs_table",
    "json_model",
    "kinesis_stream",
    "lambda_source",
    "lambda_target",
    "lambda_task",
    "lambdas_dir",
    "method_throttles",
    "nag",
    "not_found_response",
    "on_job_status",
    "pillow_layer",
    "pip_layer",
    "powertools_layer_arn",
    "python_function",
    "queue_with_dlq",
    "rest_api",
    "s3_delivery_stream",
    "state_machine",
    "table",
    "topic",
    "user_pool",
    "validated_rest_api",
    "validation",
    "validation_error_responses",
    "validator",
]
