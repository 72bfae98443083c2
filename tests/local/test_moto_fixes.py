"""moto keeps no garbage under the local cloud: model instances are tracked weakly and a DynamoDB
transaction no longer copies its tables (moto 5.2.5 kept every copy alive), yet still rolls back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from patterns.local import LocalCloud


@pytest.fixture
def table() -> Iterator[tuple[LocalCloud, Any]]:
    with LocalCloud(front_door=False) as cloud:
        ddb = cloud.client("dynamodb")
        ddb.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield cloud, ddb


def _put(pk: str, **extra: Any) -> dict[str, Any]:
    return {"Put": {"TableName": "orders", "Item": {"pk": {"S": pk}}, **extra}}


def test_transactions_leave_no_table_copies_or_items_behind(table: tuple[LocalCloud, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    _, ddb = table
    # WHEN 200 transactions write into a growing table, and scans read it
    for n in range(200):
        ddb.transact_write_items(TransactItems=[_put(f"order-{n}"), _put(f"audit-{n}")])
        if n % 50 == 0:
            ddb.scan(TableName="orders")
    gc.collect()

    # THEN only the one table and its 400 items are alive (moto 5.2.5: 401 tables, ~80,000 items)
    assert len(list(Table.instances_tracked)) == 1
    assert len(list(Item.instances_tracked)) < 500
    assert sum(isinstance(o, Table) for o in gc.get_objects()) == 1


def test_a_cancelled_transaction_still_rolls_back_items_and_stream_records(table: tuple[LocalCloud, Any]) -> None:
    _, ddb = table
    ddb.put_item(TableName="orders", Item={"pk": {"S": "existing"}, "v": {"S": "old"}})
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[table[0].account_id][table[0].region].tables["orders"].stream_shard

    # WHEN a transaction writes two items and then fails its condition check
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                _put("new"),
                {
                    "Update": {
                        "TableName": "orders",
                        "Key": {"pk": {"S": "existing"}},
                        "UpdateExpression": "SET v = :new",
                        "ExpressionAttributeValues": {":new": {"S": "new"}},
                    }
                },
                _put("blocked", ConditionExpression="attribute_exists(pk)"),
            ]
        )

    # THEN nothing of it is visible: no item, no changed attribute, no stream record
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = {i["pk"]["S"]: i for i in ddb.scan(TableName="orders")["Items"]}
    assert list(items) == ["existing"] and items["existing"]["v"]["S"] == "old"
    assert [record.record["eventName"] for record in shard.items] == ["INSERT"]
