"""CATALOG 9 — PipesAndFilters: a chain of single-purpose filter functions connected by SQS queues.

Each step owns an input queue with its own DLQ; its function transforms a record, appends the step's
name to the record's trail and sends it to the next step's queue; the last step writes the record to
a results table. A failing step parks the record in *its* DLQ, so after the fault is fixed the record
is redriven into that step and the chain finishes from there, without re-running the earlier steps.

Handler contract (for ``handler_code`` of your own): a step receives SQS batches of JSON records
``{"id": str, "data": {...}, "trail": [str, ...]}`` and reads ``STEP_NAME``, ``NEXT_QUEUE_URL`` (all but
the last step) or ``RESULTS_TABLE_NAME`` (the last step) and ``IDEMPOTENCY_TABLE_NAME`` from its
environment. ``lambdas/pipes_and_filters/pipe.py`` implements it: wrap a plain ``data -> data`` function
with ``pipe.filter_step``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=9,
    name="PipesAndFilters",
    construct="PipesAndFilters",
    module="patterns.pipes_and_filters",
    demo_stack="PipesAndFiltersDemo",
    handlers=("pipes_and_filters",),
    family="Messaging and integration",
    summary="single-purpose filter functions chained by SQS queues, each step with its own DLQ, into a results table",
)

#: Environment variables the pattern sets on every step; ``Step.environment`` cannot override them.
RESERVED_ENVIRONMENT = frozenset({"STEP_NAME", "NEXT_QUEUE_URL", "RESULTS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME"})
#: The results table's partition key: the record id.
RESULTS_KEY = "id"
_STEP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")


@dataclass(frozen=True, kw_only=True)
class Step:
    """One filter of the chain.

    Defaults: the pattern's handler code (``lambdas/pipes_and_filters``), the pattern's function
    timeout, batches of 10 records, no extra environment.
    """

    name: str
    handler: str
    handler_code: lambda_.Code | None = None
    timeout: Duration | None = None
    batch_size: int = 10
    environment: Mapping[str, str] = field(default_factory=dict)


def _validate_steps(steps: Sequence[Step]) -> None:
    if not steps:
        raise ValueError("steps must list at least one Step, e.g. [Step(name='Validate', handler='filters.validate')]")
    names = [step.name for step in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"step names must be unique: they name queues, functions and trail entries (given {names})")
    for index, step in enumerate(steps):
        if not _STEP_NAME.match(step.name):
            raise ValueError(
                f"step names must start with a letter and hold 1-40 letters or digits (given {step.name!r})"
            )
        if not step.handler:
            raise ValueError(f"step {step.name!r} needs a handler, e.g. 'filters.validate'")
        # Checked for the whole set up front: which of them a step gets depends on its position.
        core.validation.reserved(
            f"steps[{index}].environment", step.environment, RESERVED_ENVIRONMENT,
            f"the pattern wires step {step.name!r} to the next queue or the results table",
        )


class PipesAndFilters(Construct):
    """A pipeline of filter steps; records enter through ``input_queue`` and end in ``table``.

    :param steps: the filters in order; at least one, unique names (letters and digits, they name
        constructs and are the record's trail entries).
    :param existing_table: where the last step writes finished records (partition key ``id``, string).
        Default: a new table; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new results table. Default: none.
    :param max_receive_count: deliveries before a record moves to its step's DLQ. Default: 5.
    :param function_options: memory, timeout, log retention... of every step. Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        steps: Sequence[Step],
        existing_table: ddb.ITable | None = None,
        table_props: dict[str, Any] | None = None,
        max_receive_count: int = core.MAX_RECEIVE_COUNT,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate_steps(steps)
        opts = function_options or core.FunctionOptions()
        self.steps: tuple[str, ...] = tuple(step.name for step in steps)
        self.table: ddb.ITable = core.table(
            self, "Results", partition_key=RESULTS_KEY, existing_table=existing_table, table_props=table_props,
        )
        self.idempotency_table = core.idempotency_table(self, "IdempotencyTable")

        self.queues: dict[str, sqs.IQueue] = {}
        self.dead_letter_queues: dict[str, sqs.IQueue] = {}
        for step in steps:
            pair = core.queue_with_dlq(
                self, f"{step.name}Queue",
                consumer_timeout=step.timeout or opts.timeout,
                max_receive_count=max_receive_count,
            )
            assert pair.dead_letter_queue is not None
            self.queues[step.name] = pair.queue
            self.dead_letter_queues[step.name] = pair.dead_letter_queue

        pattern_code = core.handler_code("pipes_and_filters")
        self.functions: dict[str, lambda_.Function] = {}
        for index, step in enumerate(steps):
            is_last = index == len(steps) - 1
            downstream = (
                {"RESULTS_TABLE_NAME": self.table.table_name}
                if is_last
                else {"NEXT_QUEUE_URL": self.queues[steps[index + 1].name].queue_url}
            )
            function = core.python_function(
                self, f"{step.name}Filter",
                code=step.handler_code or pattern_code,
                handler=step.handler,
                service=step.name,
                invocation="sqs",
                description=f"pipeline step {index + 1}/{len(steps)} {step.name}: {step.handler}",
                options=opts,
                timeout=step.timeout,
                user_environment=step.environment,
                user_environment_prop=f"steps[{index}].environment",
                environment={
                    "STEP_NAME": step.name,
                    "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                    **downstream,
                },
            )
            # Least privilege: a step may forward to the next queue only, the last step may only put results.
            if is_last:
                self.table.grant(function, "dynamodb:PutItem")
            else:
                self.queues[steps[index + 1].name].grant_send_messages(function)
            self.idempotency_table.grant(
                function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
            )
            core.consume(function, self.queues[step.name], batch_size=step.batch_size)
            self.functions[step.name] = function

        self.input_queue: sqs.IQueue = self.queues[self.steps[0]]
        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions=dict(self.functions),
            work_queues=self.queues,
            dead_letter_queues=self.dead_letter_queues,
        ).alarms

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to feed records into the first step."""
        return self.input_queue.grant_send_messages(grantee)

    def grant_redrive(self, grantee: iam.IGrantable, step: str) -> None:
        """Allow ``grantee`` to run ``redrive`` for ``step``: consume its DLQ, send to its queue."""
        if step not in self.queues:
            raise KeyError(f"no step {step!r} (steps: {list(self.steps)})")
        self.dead_letter_queues[step].grant_consume_messages(grantee)
        self.queues[step].grant_send_messages(grantee)


def redrive(sqs_client: Any, *, dead_letter_queue_url: str, queue_url: str, max_messages: int | None = None) -> int:
    """Move records parked in a step's DLQ back into that step's queue; returns how many moved.

    Run it once the step's fault is fixed. Each batch is sent before it is deleted from the DLQ, so an
    interruption can leave a record in both queues but never in neither; the steps' idempotency
    (keyed on the record id) absorbs such a duplicate. On AWS, ``sqs.start_message_move_task`` with the
    DLQ's ARN does the same server-side; this helper also works where that API is missing.

    ``sqs_client`` is a boto3 SQS client; ``max_messages`` bounds the move (default: until the DLQ is empty).
    The caller needs ``grant_redrive`` for that step. Example, once the enrich step's fault is fixed::

        redrive(boto3.client("sqs"), dead_letter_queue_url=outputs["EnrichDeadLetterQueueUrl"],
                queue_url=outputs["EnrichQueueUrl"])
    """
    moved = 0
    while max_messages is None or moved < max_messages:
        wanted = 10 if max_messages is None else min(10, max_messages - moved)
        messages = sqs_client.receive_message(
            QueueUrl=dead_letter_queue_url, MaxNumberOfMessages=wanted, WaitTimeSeconds=1,
            MessageAttributeNames=["All"], VisibilityTimeout=60,
        ).get("Messages", [])
        if not messages:
            break
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs_client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        done = [int(ok["Id"]) for ok in sent.get("Successful", [])]
        if done:
            sqs_client.delete_message_batch(
                QueueUrl=dead_letter_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": messages[i]["ReceiptHandle"]} for i in done],
            )
        moved += len(done)
        if sent.get("Failed"):
            reasons = "; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in sent["Failed"])
            raise RuntimeError(f"redrive stopped after {moved} records: {len(sent['Failed'])} not sent ({reasons})")
    return moved
