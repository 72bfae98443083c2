"""Authorizers of the front door: Lambda authorizer policies, JWT / Cognito token checks."""

from __future__ import annotations

import json
import re
from typing import Any

import jwt  # PyJWT: a declared dependency of the local extra, imported eagerly so its absence is loud

from .requests import _COGNITO_ISSUER

# ---------------------------------------------------------------------------------------------
# IAM policy evaluation for Lambda authorizers
# ---------------------------------------------------------------------------------------------


def _wildcard(pattern: str, value: str) -> bool:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if pattern.startswith("execute-api") else 0) is not None


def _policy_decision(policy: Any, method_arn: str) -> str:
    """ "Allow", "Deny" (explicit) or "None" for execute-api:Invoke on ``method_arn``."""
    if not isinstance(policy, dict):
        raise ValueError("policyDocument must be an object")
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    decision = "None"
    for statement in statements:
        actions = statement.get("Action") or []
        resources = statement.get("Resource") or []
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_wildcard(a, "execute-api:Invoke") or a == "*" for a in actions):
            continue
        if not any(_wildcard(r, method_arn) for r in resources):
            continue
        effect = str(statement.get("Effect", "")).capitalize()
        if effect == "Deny":
            return "Deny"
        if effect == "Allow":
            decision = "Allow"
    return decision


def _stringify_claims(claims: dict[str, Any]) -> dict[str, str]:
    """API Gateway hands JWT claims to integrations as strings (lists as ``[a b]``)."""
    result: dict[str, str] = {}
    for key, value in claims.items():
        if isinstance(value, list):
            result[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            result[key] = "true" if value else "false"
        elif isinstance(value, dict):
            result[key] = json.dumps(value)
        else:
            result[key] = str(value)
    return result


_MOTO_JWKS: Any = None


def _verify_jwt(
    token: str, *, issuers: list[str], audience: list[str] | None, account_id: str, now: float
) -> dict[str, Any]:
    """Decode a bearer JWT and check issuer, audience and expiry (``exp``/``nbf`` against ``now``,
    the local cloud's clock, so ``LocalCloud.advance`` expires tokens as time does on AWS).

    Tokens issued by a Cognito user pool known to moto are signature-checked with moto's signing
    key (the key moto's ``initiate_auth`` uses and its JWKS endpoint serves). Other issuers cannot
    be reached offline, so for them only the claims are checked, not the signature.
    """
    global _MOTO_JWKS
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    unverified = jwt.decode(token, options={"verify_signature": False})
    issuer = str(unverified.get("iss", ""))
    if issuer.rstrip("/") not in [i.rstrip("/") for i in issuers]:
        raise ValueError(f"issuer {issuer!r} is not accepted")
    cognito = _COGNITO_ISSUER.match(issuer)
    # PyJWT compares exp with the wall clock; the cloud's clock is checked below instead.
    options = {"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False}
    if cognito and _pool_exists(account_id, cognito.group("region"), cognito.group("pool")):
        if _MOTO_JWKS is None:
            from moto.utilities.utils import load_resource

            _MOTO_JWKS = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-public.json")["keys"][0])
        claims = jwt.decode(token, key=_MOTO_JWKS.key, algorithms=["RS256"], options=options)
    elif cognito:
        raise ValueError(f"user pool {cognito.group('pool')} does not exist")
    else:
        claims = jwt.decode(token, options={**options, "verify_signature": False})
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise ValueError("the token has no numeric exp claim")
    if now >= expires:
        raise ValueError("the token has expired")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and now < not_before:
        raise ValueError("the token is not valid yet")
    if audience:
        token_audience = claims.get("aud", claims.get("client_id"))
        token_audience = token_audience if isinstance(token_audience, list) else [token_audience]
        if not set(map(str, token_audience)) & set(audience):
            raise ValueError("audience not accepted")
    return claims


def _pool_exists(account_id: str, region: str, pool_id: str) -> bool:
    from moto.cognitoidp.models import cognitoidp_backends

    return pool_id in cognitoidp_backends[account_id][region].user_pools
