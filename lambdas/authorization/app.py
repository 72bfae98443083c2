"""The protected function: answers with the route and the caller API Gateway authorized.

Behind the Lambda authorizer the caller is ``requestContext.authorizer`` (principalId plus the
authorizer's context: username, groups, scopes); behind the Cognito user pool authorizer it is the
ID token's claims (``requestContext.authorizer.claims``). The function trusts both: API Gateway
only invokes it for an authorized request. Swap this asset for your business logic.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


def caller(authorizer: dict[str, Any]) -> dict[str, Any]:
    """The caller's identity as the API saw it, whichever authorizer ran."""
    claims = authorizer.get("claims")
    if isinstance(claims, dict):
        groups = str(claims.get("cognito:groups", "")).strip("[]")
        return {
            "principal": claims.get("sub"),
            "username": claims.get("cognito:username"),
            "groups": groups.split() if groups else [],
            "authorizer": "cognito",
        }
    groups = str(authorizer.get("groups", ""))
    scopes = str(authorizer.get("scopes", ""))
    return {
        "principal": authorizer.get("principalId"),
        "username": authorizer.get("username"),
        "groups": groups.split(",") if groups else [],
        "scopes": scopes.split() if scopes else [],
        "authorizer": "lambda",
    }


@logger.inject_lambda_context
@event_source(data_class=APIGatewayProxyEvent)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    authorizer = event.raw_event.get("requestContext", {}).get("authorizer") or {}
    if not authorizer.get("principalId") and not isinstance(authorizer.get("claims"), dict):
        # Only reachable when the method was deployed without an authorizer: refuse, never guess.
        logger.warning("invoked without an authorized caller", extra={"resource": event.resource})
        return {"statusCode": 403, "body": json.dumps({"message": "no authorized caller"})}
    who = caller(authorizer)
    logger.info("authorized call", extra={"principal": who["principal"], "resource": event.resource})
    body = {"route": f"{event.http_method} {event.resource}", "caller": who}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
