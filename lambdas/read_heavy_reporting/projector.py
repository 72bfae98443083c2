"""Projector: applies each source-table stream record once to the views, then rewrites the top-N index.

A DynamoDB stream delivers at least once: a failed batch is retried (whole, or its halves when the
event source bisects it), so records that were applied already come again. Each record is applied
in one transaction: a conditional put of its ``eventID`` in the applied table and ``ADD`` of its
deltas to the views it moves. A redelivered record fails the condition and changes nothing; a crash
cannot apply half a record. A view whose count reaches zero (its last item deleted or moved away) is
deleted with a condition on that count, so a concurrent insert is never lost.

Records are applied in order and the first that fails raises: the invocation fails, the event source
bisects the batch until the failing record is alone, retries it and then describes it in the
on-failure queue, while every other record of the batch is applied (once) by the halves. Powertools'
batch processor is not used on purpose: it reports failures item by item, and a partial response
stops the event source from bisecting, so the poison record would be retried with the records after
it and described in the on-failure queue together with them.

After a batch, the index table is rewritten from the views' ranking index (``ByRank``), with the
views this batch changed read consistently (the index is eventually consistent); it is keyed by rank
``1`` .. ``TOP_N``, so it never holds more than ``TOP_N`` items, and only changed ranks are written.
The index is a reporting read model, not a transaction: batches of different shards running at once
rewrite it from what each of them read, so it can lag the views by one batch until the next batch
rewrites it (the views themselves are exact).
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer
from projection import Delta, InvalidItem, deltas, rank

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Clients are made on first use, once per execution environment: importing the handler makes none.
@functools.cache
def ddb() -> Any:
    return boto3.client("dynamodb")


VIEW_TABLE = os.environ["VIEW_TABLE_NAME"]
INDEX_TABLE = os.environ["INDEX_TABLE_NAME"]
APPLIED_TABLE = os.environ["APPLIED_TABLE_NAME"]
RANK_INDEX = os.environ.get("RANK_INDEX_NAME", "ByRank")
GROUP_FIELD = os.environ.get("GROUP_FIELD", "category")
VALUE_FIELD = os.environ.get("VALUE_FIELD", "amount")
TOP_N = int(os.environ.get("TOP_N", "10"))
RANK_BY = os.environ.get("RANK_BY", "total")
MARKER_TTL_SECONDS = int(os.environ.get("MARKER_TTL_SECONDS", str(25 * 3600)))
BOARD = "all"
_deserializer = TypeDeserializer()


def _view_update(group: str, delta: Delta) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": VIEW_TABLE,
            "Key": {"view_key": {"S": group}},
            "UpdateExpression": "SET #board = :board ADD item_count :count, #total :total",
            "ExpressionAttributeNames": {"#board": "board", "#total": "total"},
            "ExpressionAttributeValues": {
                ":board": {"S": BOARD},
                ":count": {"N": str(delta.count)},
                ":total": {"N": str(delta.total)},
            },
        }
    }


@tracer.capture_method
def apply_once(event_id: str, sequence_number: str, moved: dict[str, Delta], now: int) -> bool:
    """Mark the record applied and move its deltas, atomically; False if it was applied before."""
    marker = {
        "Put": {
            "TableName": APPLIED_TABLE,
            "Item": {
                "event_id": {"S": event_id},
                "sequence_number": {"S": sequence_number},
                "expires": {"N": str(now + MARKER_TTL_SECONDS)},
            },
            "ConditionExpression": "attribute_not_exists(event_id)",
        }
    }
    try:
        ddb().transact_write_items(TransactItems=[marker, *(_view_update(g, d) for g, d in sorted(moved.items()))])
    except ddb().exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons") or []
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            return False
        raise  # a conflict with a concurrent writer of the same view, or a throttle: retried
    return True


def drop_if_empty(group: str) -> None:
    """Delete a view no item counts in any more (and leave it if a concurrent insert counted one)."""
    try:
        ddb().delete_item(
            TableName=VIEW_TABLE,
            Key={"view_key": {"S": group}},
            ConditionExpression="item_count <= :zero",
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )
    except ddb().exceptions.ConditionalCheckFailedException:
        pass


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _fresh(groups: set[str]) -> dict[str, dict[str, Any] | None]:
    """Consistent reads of the views ``groups``; None for a view that does not exist."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(groups)
    keys = [{"view_key": {"S": g}} for g in sorted(groups)]
    while keys:
        request = {VIEW_TABLE: {"Keys": keys[:100], "ConsistentRead": True}}
        keys = keys[100:]
        while request:
            response = ddb().batch_get_item(RequestItems=request)
            for item in response["Responses"].get(VIEW_TABLE, []):
                view = _plain(item)
                found[view["view_key"]] = view
            request = response.get("UnprocessedKeys") or {}
    return found


@tracer.capture_method
def rewrite_index(changed: set[str]) -> int:
    """Rewrite the ranks whose view changed; the number of ranks written or deleted."""
    response = ddb().query(
        TableName=VIEW_TABLE,
        IndexName=RANK_INDEX,
        KeyConditionExpression="#board = :board",
        ExpressionAttributeNames={"#board": "board"},
        ExpressionAttributeValues={":board": {"S": BOARD}},
        ScanIndexForward=False,
        Limit=TOP_N + len(changed),
    )
    candidates = {v["view_key"]: v for v in map(_plain, response.get("Items", []))}
    top = rank(candidates, _fresh(changed), RANK_BY, TOP_N)
    current = {int(i["rank"]): i for i in map(_plain, ddb().scan(TableName=INDEX_TABLE, ConsistentRead=True)["Items"])}
    writes = 0
    for position in range(1, TOP_N + 1):
        held = current.get(position)
        if position > len(top):
            if held is not None:
                ddb().delete_item(TableName=INDEX_TABLE, Key={"rank": {"S": str(position)}})
                writes += 1
            continue
        view = top[position - 1]
        entry = {"view_key": view["view_key"], "item_count": view["item_count"], "total": view["total"]}
        if held is not None and all(held.get(k) == v for k, v in entry.items()):
            continue
        ddb().put_item(
            TableName=INDEX_TABLE,
            Item={
                "rank": {"S": str(position)},
                "view_key": {"S": str(view["view_key"])},
                "item_count": {"N": str(view["item_count"])},
                "total": {"N": str(view["total"])},
            },
        )
        writes += 1
    return writes


def project(record: DynamoDBRecord, now: int) -> tuple[bool, dict[str, Delta]]:
    """Apply one record; (applied now, its deltas). InvalidItem for a poison record."""
    stream = record.dynamodb
    if stream is None or not record.event_id:
        raise InvalidItem("not a DynamoDB stream record")
    moved = deltas(stream.old_image, stream.new_image, GROUP_FIELD, VALUE_FIELD)
    applied = apply_once(record.event_id, stream.sequence_number or "", moved, now)
    for group, delta in moved.items():
        if delta.count < 0:
            drop_if_empty(group)  # also on a redelivery: the first delivery may have stopped before it
    return applied, moved


def _summary(records: list[DynamoDBRecord], applied: int, duplicates: int, *, ranks: int, poisoned: int) -> None:
    """One line and three metrics per invocation, failed ones included (what they applied stays applied)."""
    metrics.add_metric(name="RecordsApplied", unit=MetricUnit.Count, value=applied)
    metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=duplicates)
    logger.info(
        "batch projected", records=len(records), applied=applied, duplicates=duplicates, poisoned=poisoned,
        ranks_written=ranks,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[Any]]:
    records = list(DynamoDBStreamEvent(event).records)
    applied = duplicates = 0
    changed: set[str] = set()
    now = int(time.time())
    for record in records:
        try:
            fresh, moved = project(record, now)
        except InvalidItem as error:
            metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=1)
            logger.warning(
                "poison record", event_id=record.event_id, reason=str(error),
                sequence_number=record.dynamodb.sequence_number if record.dynamodb else None,
            )
            _summary(records, applied, duplicates, ranks=0, poisoned=1)
            raise
        changed.update(moved)
        applied, duplicates = applied + fresh, duplicates + (not fresh)
    ranks = rewrite_index(changed) if changed else 0
    _summary(records, applied, duplicates, ranks=ranks, poisoned=0)
    return {"batchItemFailures": []}

