"""Business functions of the item resource, free of HTTP: they take models and return models.

Every write is conditional, so a create never overwrites and an update or delete of an unknown id
changes nothing (``ItemNotFound``) instead of creating a ghost item.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from models import Item, ItemIn


class ItemNotFound(LookupError):
    """No item has this id."""


class BadPageToken(ValueError):
    """The pagination token was not issued by this service."""


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_token: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _from_dynamo(raw: dict[str, Any]) -> Item:
    # DynamoDB returns numbers as Decimal; the model restores the API's types.
    return Item.model_validate({**raw, "quantity": int(raw.get("quantity", 0))})


def encode_token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise BadPageToken("next_token is not a token this API issued") from error
    if not isinstance(key, dict) or set(key) != {"id"} or not isinstance(key["id"], str):
        raise BadPageToken("next_token is not a token this API issued")
    return key


class ItemStore:
    """CRUD and paginated listing over one DynamoDB table keyed by ``id``."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def create(self, data: ItemIn) -> Item:
        now = _now()
        item = Item(id=uuid.uuid4().hex, created_at=now, updated_at=now, **data.model_dump())
        self.table.put_item(Item=item.model_dump(), ConditionExpression="attribute_not_exists(id)")
        return item

    def get(self, item_id: str) -> Item:
        raw = self.table.get_item(Key={"id": item_id}, ConsistentRead=True).get("Item")
        if raw is None:
            raise ItemNotFound(item_id)
        return _from_dynamo(raw)

    def replace(self, item_id: str, data: ItemIn) -> Item:
        fields = data.model_dump()
        try:
            result = self.table.update_item(
                Key={"id": item_id},
                UpdateExpression="SET #name = :name, description = :description, quantity = :quantity, "
                "updated_at = :updated_at",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues={
                    ":name": fields["name"], ":description": fields["description"],
                    ":quantity": fields["quantity"], ":updated_at": _now(),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                raise ItemNotFound(item_id) from error
            raise
        return _from_dynamo(result["Attributes"])

    def delete(self, item_id: str) -> None:
        try:
            self.table.delete_item(Key={"id": item_id}, ConditionExpression="attribute_exists(id)")
        except ClientError as error:
            if _conditional_failed(error):
                raise ItemNotFound(item_id) from error
            raise

    def list(self, *, limit: int, next_token: str | None = None) -> Page:
        kwargs: dict[str, Any] = {"Limit": limit}
        if next_token:
            kwargs["ExclusiveStartKey"] = decode_token(next_token)
        result = self.table.scan(**kwargs)
        last_key = result.get("LastEvaluatedKey")
        return Page(
            items=[_from_dynamo(raw) for raw in result.get("Items", [])],
            next_token=encode_token({"id": last_key["id"]}) if last_key else None,
        )
