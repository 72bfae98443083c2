"""Cognito user pool tokens as AWS issues them, on the local cloud's clock.

moto 5.2.5 signs ID and access tokens with ``iat``/``auth_time``/``exp`` from the wall clock and a
fixed one-hour lifetime. AWS takes the lifetime from the app client (``AccessTokenValidity`` /
``IdTokenValidity`` in ``TokenValidityUnits``, hours by default; 60 minutes when unset) and, in the
local cloud, "now" is the virtual clock, so ``LocalCloud.advance`` past a token's lifetime expires
it for every verifier (the front door's authorizers, a Lambda authorizer reading the cloud's clock).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hooks import Patcher

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
#: token_use → (the client's validity setting, its TokenValidityUnits key)
_SETTINGS = {"access": ("AccessTokenValidity", "AccessToken"), "id": ("IdTokenValidity", "IdToken")}


def token_lifetime(client_config: dict[str, Any] | None, token_use: str) -> int:
    """Seconds an ID or access token of an app client is valid (AWS's default: 60 minutes)."""
    setting, unit_key = _SETTINGS[token_use]
    config = client_config or {}
    value = config.get(setting)
    if value in (None, ""):
        return 3600
    unit = str((config.get("TokenValidityUnits") or {}).get(unit_key) or "hours").lower()
    if unit not in _UNIT_SECONDS:
        raise ValueError(f"TokenValidityUnits.{unit_key} must be one of {sorted(_UNIT_SECONDS)} (given {unit!r})")
    return int(value) * _UNIT_SECONDS[unit]


def install(patcher: Patcher, clock: Callable[[], float]) -> None:
    """Issue tokens at ``clock()`` (epoch seconds) with the app client's token lifetimes."""
    from moto.cognitoidp import models

    # create_jwt is the module's only reader of the time module: it reads the cloud's clock now.
    patcher.set(models, "time", types.SimpleNamespace(time=clock))
    original = models.CognitoIdpUserPool.create_jwt

    def create_jwt(
        pool: Any,
        client_id: str,
        username: str,
        token_use: str,
        expires_in: int = 3600,
        extra_data: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        if token_use in _SETTINGS:
            client = pool.clients.get(client_id)
            expires_in = token_lifetime(getattr(client, "extended_config", None), token_use)
        return original(pool, client_id, username, token_use, expires_in, extra_data)  # type: ignore[no-any-return]

    patcher.set(models.CognitoIdpUserPool, "create_jwt", create_jwt)
