"""TOKEN authorizer: a Cognito access token → the caller's principal and an IAM policy.

The token's signature, issuer, app client, use and expiry are verified (``tokens.Verifier``); a
token that fails is answered ``Unauthorized`` (API Gateway: 401). The caller's ``cognito:groups``
grant scopes (``GROUP_SCOPES``) and each route needs one scope (``ROUTE_SCOPES``): the policy
allows the routes the caller's scopes cover and explicitly denies the others (403). The policy
names every route of the API because API Gateway caches it by token for the authorizer's TTL and
judges later requests for any method against the cached policy.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from tokens import InvalidToken, RsaKey, Verifier, fetch_jwks

logger = Logger()
metrics = Metrics()

REGION = os.environ["AWS_REGION"]
USER_POOL_ID = os.environ["USER_POOL_ID"]
CLIENT_IDS = frozenset(c for c in os.environ["CLIENT_IDS"].split(",") if c)
#: group → scopes it grants, e.g. {"admins": ["orders/read", "orders/write"]}
GROUP_SCOPES: dict[str, list[str]] = json.loads(os.environ["GROUP_SCOPES"])
#: "METHOD /path" → the scope it needs, e.g. {"POST /orders": "orders/write"}
ROUTE_SCOPES: dict[str, str] = json.loads(os.environ["ROUTE_SCOPES"])
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
_BEARER = re.compile(r"^Bearer ([-\w]+\.[-\w]+\.[-\w]+)$")


def jwks_url() -> str:
    """The pool's JWKS; an SDK endpoint override (a local cloud) serves it at the same path."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_COGNITO_IDP") or os.environ.get("AWS_ENDPOINT_URL")
    base = endpoint.rstrip("/") if endpoint else f"https://cognito-idp.{REGION}.amazonaws.com"
    return f"{base}/{USER_POOL_ID}/.well-known/jwks.json"


JWKS_URL = jwks_url()


@functools.cache
def signing_keys() -> dict[str, RsaKey]:
    """Fetched once per execution environment (Cognito rotates keys rarely; a new kid → cold start)."""
    return fetch_jwks(JWKS_URL)


@functools.cache
def verifier() -> Verifier:
    return Verifier(issuer=ISSUER, client_ids=CLIENT_IDS, keys=signing_keys)


def scopes_of(groups: list[str]) -> set[str]:
    return {scope for group in groups for scope in GROUP_SCOPES.get(group, [])}


def policy_for(event: APIGatewayAuthorizerTokenEvent, claims: dict[str, Any]) -> dict[str, Any]:
    groups = [str(g) for g in claims.get("cognito:groups") or []]
    scopes = scopes_of(groups)
    response = APIGatewayAuthorizerResponse.from_route_arn(
        event.method_arn,
        principal_id=str(claims["sub"]),
        context={
            "username": str(claims.get("username", "")),
            "groups": ",".join(groups),
            "scopes": " ".join(sorted(scopes)),
        },
    )
    for route, scope in ROUTE_SCOPES.items():
        method, _, path = route.partition(" ")
        resource = re.sub(r"\{[^}]+\}", "*", path)
        if scope in scopes:
            response.allow_route(http_method=method, resource=resource)
        else:
            response.deny_route(http_method=method, resource=resource)
    return response.asdict()


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    match = _BEARER.match(event.authorization_token or "")
    try:
        if match is None:
            raise InvalidToken("not a bearer token")
        claims = verifier().verify(match.group(1))
    except InvalidToken as reason:
        logger.info("token refused", extra={"reason": str(reason)})
        metrics.add_metric(name="TokensRefused", unit=MetricUnit.Count, value=1)
        # The exact message API Gateway maps to 401 Unauthorized.
        raise Exception("Unauthorized") from None
    metrics.add_metric(name="TokensAccepted", unit=MetricUnit.Count, value=1)
    return policy_for(event, claims)
