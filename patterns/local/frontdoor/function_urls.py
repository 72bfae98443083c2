"""Lambda function URLs (AWS::Lambda::Url) served by the front door.

A function URL is ``https://<url-id>.lambda-url.<region>.on.aws/``; here it is served host-style
(``Host: <url-id>.lambda-url.localhost:PORT``, what HTTP integrations naming the URL are sent with)
or path-style (``http://127.0.0.1:PORT/lambda-url/<url-id>/...``). The event is payload format 2.0
as Lambda documents it for function URLs (routeKey and stage ``$default``, ``requestContext.authorizer.iam``
for AWS_IAM), and the result is mapped like an HTTP API's 2.0 response.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .http import _HttpInvocation, _v2_response
from .requests import _LOG, LambdaInvocationError, _IntegrationFailure, _json_reply, _Reply, _Request

if TYPE_CHECKING:
    from .apigateway import FrontDoor


def find_function_url(door: FrontDoor, url_id: str) -> Any:
    """The moto function whose URL config has this id (None if no deployed function has it)."""
    from moto.awslambda.models import lambda_backends

    with door._lock:
        for function in list(lambda_backends[door.account_id][door.region]._lambdas.all()):
            config = getattr(function, "url_config", None)
            if config is not None and config.url.split("//", 1)[-1].split(".", 1)[0] == url_id:
                return function
    return None


class _FunctionUrlInvocation(_HttpInvocation):
    """One request to a function URL: no routes, no stages; AuthType NONE or AWS_IAM."""

    def __init__(self, door: FrontDoor, function: Any, url_id: str, request: _Request) -> None:
        config = function.url_config.config
        api = SimpleNamespace(api_id=url_id, cors_configuration=_camel_cors(config.get("Cors")))
        stage = SimpleNamespace(name="$default", stage_variables={})
        super().__init__(door, api, stage, request)
        self.function = function
        self.auth_type = str(config.get("AuthType") or "NONE").upper()

    def run(self) -> _Reply:
        cors = self.api.cors_configuration or {}
        if cors and self.request.method == "OPTIONS" and self.request.header("access-control-request-method"):
            return self._preflight(cors)
        if self.auth_type == "AWS_IAM":
            # Lambda needs a SigV4-signed request; the local cloud records the caller's access key
            # (no signature check, as for API Gateway's AWS_IAM) but refuses an unsigned request.
            credential = re.search(r"Credential=([^/,\s]+)/", self.request.header("authorization") or "")
            if credential is None:
                return _json_reply(403, {"Message": "Forbidden"}, [("x-amzn-ErrorType", "AccessDeniedException")])
            self.authorizer = {"iam": {"accessKey": credential.group(1), "accountId": self.door.account_id}}
        event = self._event_v2()
        event["requestContext"]["domainName"] = f"{self.api.api_id}.lambda-url.{self.door.region}.on.aws"
        try:
            result = self.door.invoke(self.function.function_arn, event)
        except (LambdaInvocationError, _IntegrationFailure) as error:
            _LOG.info("function URL %s failed: %s", self.api.api_id, error)
            reply = _json_reply(502, {"Message": "Internal Server Error"})
        else:
            reply = _v2_response(result) or _json_reply(502, {"Message": "Internal Server Error"})
        if cors:
            self._cors_headers(cors, reply)
        reply.set_header("x-amzn-RequestId", self.request.request_id)
        return reply


def _camel_cors(cors: Any) -> dict[str, Any]:
    """A function URL's Cors (PascalCase in the template) in the HTTP API's camelCase shape."""
    if not isinstance(cors, dict):
        return {}
    return {(k[:1].lower() + k[1:]): v for k, v in cors.items()}
