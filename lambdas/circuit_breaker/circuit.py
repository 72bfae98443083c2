"""The circuit's state machine on one DynamoDB item, every transition a conditional write.

Item (key ``circuit``): ``state`` CLOSED | OPEN | HALF_OPEN; while closed ``failures`` counted since
``window_start``; while open ``opened_at``; while half-open the ``probe`` token of the one call
allowed through and its lease ``probe_until``. Times are epoch milliseconds. A missing item is a
closed circuit with no failures.

Concurrent breakers read the item, decide, and write only if the item is still what they read:
two callers counting the failure that reaches the threshold both see it, but only one opens the
circuit; many callers finding the cooldown over all try to claim the probe, one condition holds.
A probe whose breaker died (its lease expired) can be claimed again, so a lost probe cannot keep
the circuit half-open forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
Admission = Literal["call", "probe", "reject"]
_RETRIES = 3


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Settings:
    """The circuit's thresholds, from the function's environment."""

    threshold: int
    window_ms: int
    cooldown_ms: int
    lease_ms: int


@dataclass(frozen=True)
class Decision:
    """What to do with one call, and the state it was decided on."""

    admission: Admission
    state: str
    retry_after_ms: int = 0


class Circuit:
    """One circuit item in the table, read and written by a low-level DynamoDB client."""

    def __init__(self, client: Any, table: str, name: str, settings: Settings) -> None:
        self.client, self.table, self.settings = client, table, settings
        self.key = {"circuit": {"S": name}}

    def read(self) -> dict[str, Any]:
        """The item as plain values; raises the client's errors (the caller applies the fallback)."""
        item = self.client.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item") or {}
        return {k: (int(v["N"]) if "N" in v else v.get("S")) for k, v in item.items()}

    def _update(self, expression: str, condition: str, values: dict[str, Any], names: dict[str, str] | None = None,
                returns: str = "NONE") -> dict[str, Any] | None:
        """One conditional update; None when the condition failed (another breaker got there first)."""
        try:
            return self.client.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "state", **(names or {})},
                ExpressionAttributeValues=values,
                ReturnValues=returns,
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise

    def admit(self, now: int, token: str) -> Decision:
        """Closed: call. Open within the cooldown: reject. Cooldown over, or a probe's lease expired:
        claim the probe (one claimant wins, the rest reject)."""
        item = self.read()
        state = item.get("state") or CLOSED
        if state == CLOSED:
            return Decision("call", CLOSED)
        if state == OPEN:
            reopens = int(item.get("opened_at", 0)) + self.settings.cooldown_ms
            if now < reopens:
                return Decision("reject", OPEN, reopens - now)
            claimed = self._update(
                "SET #s = :half, probe = :token, probe_until = :until",
                "#s = :open AND opened_at = :seen",
                {":half": {"S": HALF_OPEN}, ":open": {"S": OPEN}, ":token": {"S": token},
                 ":until": {"N": str(now + self.settings.lease_ms)}, ":seen": {"N": str(item.get("opened_at", 0))}},
            )
            return Decision("probe", HALF_OPEN) if claimed is not None else Decision("reject", HALF_OPEN)
        lease = int(item.get("probe_until", 0))
        if now < lease:
            return Decision("reject", HALF_OPEN, lease - now)
        claimed = self._update(
            "SET probe = :token, probe_until = :until",
            "#s = :half AND probe = :seen",
            {":half": {"S": HALF_OPEN}, ":token": {"S": token}, ":until": {"N": str(now + self.settings.lease_ms)},
             ":seen": {"S": str(item.get("probe", ""))}},
        )
        return Decision("probe", HALF_OPEN) if claimed is not None else Decision("reject", HALF_OPEN)

    def record_failure(self, now: int) -> bool:
        """Count a failed call of the closed circuit; True when this failure opened it.

        A window older than ``window_ms`` restarts at this failure; the breaker whose count reaches
        the threshold opens the circuit, conditional on the window it counted in still being current.
        """
        cutoff = now - self.settings.window_ms
        closed = {":closed": {"S": CLOSED}}
        for _ in range(_RETRIES):
            restarted = self._update(
                "SET #s = :closed, failures = :one, window_start = :now",
                "(attribute_not_exists(#s) OR #s = :closed) AND "
                "(attribute_not_exists(window_start) OR window_start < :cutoff)",
                {**closed, ":one": {"N": "1"}, ":now": {"N": str(now)}, ":cutoff": {"N": str(cutoff)}},
                returns="ALL_NEW",
            )
            counted = restarted or self._update(
                "ADD failures :one",
                "#s = :closed AND window_start >= :cutoff",
                {**closed, ":one": {"N": "1"}, ":cutoff": {"N": str(cutoff)}},
                returns="ALL_NEW",
            )
            if counted is not None:
                break
        else:  # the circuit is no longer closed (another breaker opened it): nothing to count
            return False
        attributes = counted["Attributes"]
        if int(attributes["failures"]["N"]) < self.settings.threshold:
            return False
        opened = self._update(
            "SET #s = :open, opened_at = :now REMOVE failures, window_start",
            "#s = :closed AND window_start = :window",
            {**closed, ":open": {"S": OPEN}, ":now": {"N": str(now)}, ":window": attributes["window_start"]},
        )
        return opened is not None

    def probe_succeeded(self, token: str) -> bool:
        """The probe's call succeeded: close the circuit (if this probe still holds it)."""
        return self._update(
            "SET #s = :closed REMOVE probe, probe_until, opened_at",
            "#s = :half AND probe = :token",
            {":closed": {"S": CLOSED}, ":half": {"S": HALF_OPEN}, ":token": {"S": token}},
        ) is not None

    def probe_failed(self, token: str, now: int) -> bool:
        """The probe's call failed: open the circuit again for another cooldown."""
        return self._update(
            "SET #s = :open, opened_at = :now REMOVE probe, probe_until",
            "#s = :half AND probe = :token",
            {":open": {"S": OPEN}, ":half": {"S": HALF_OPEN}, ":token": {"S": token}, ":now": {"N": str(now)}},
        ) is not None
