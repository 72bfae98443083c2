"""An HTTP API invocation: routes, JWT and Lambda authorizers, payload format 1.0 / 2.0, integrations."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from . import vtl
from .authorizers import _policy_decision, _stringify_claims, _verify_jwt
from .requests import (
    _HOP_BY_HOP,
    _LOG,
    _STAGE_VARIABLE,
    LambdaInvocationError,
    _BackendUnreachable,
    _decode_body,
    _GatewayError,
    _http_call,
    _IntegrationFailure,
    _IntegrationTimeout,
    _Invocation,
    _json_reply,
    _lambda_arn,
    _Reply,
    _Request,
    integration_timeout,
    match_path,
    rank_template,
)
from .rest import _fill_path, _proxy_reply, _proxy_response, _scalar

if TYPE_CHECKING:
    from .apigateway import FrontDoor

# ---------------------------------------------------------------------------------------------
# HTTP APIs
# ---------------------------------------------------------------------------------------------

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")
#: IntegrationSubtype → (service, action). The parameters become the action's JSON request.
_SUBTYPES = {
    "SQS-SendMessage": ("sqs", "SendMessage"),
    "SQS-ReceiveMessage": ("sqs", "ReceiveMessage"),
    "SQS-DeleteMessage": ("sqs", "DeleteMessage"),
    "SQS-PurgeQueue": ("sqs", "PurgeQueue"),
    "EventBridge-PutEvents": ("events", "PutEvents"),
    "Kinesis-PutRecord": ("kinesis", "PutRecord"),
    "StepFunctions-StartExecution": ("states", "StartExecution"),
    "StepFunctions-StartSyncExecution": ("states", "StartSyncExecution"),
    "StepFunctions-StopExecution": ("states", "StopExecution"),
}


class _HttpInvocation(_Invocation):
    """One request against an HTTP API stage."""

    def __init__(self, door: FrontDoor, api: Any, stage: Any, request: _Request) -> None:
        super().__init__(door, api, stage, request, stage.stage_variables)
        self.route: Any = None
        self.route_key = "$default"
        self.authorizer: dict[str, Any] | None = None

    def run(self) -> _Reply:
        cors = self.api.cors_configuration or {}
        if cors and self.request.method == "OPTIONS" and self.request.header("access-control-request-method"):
            reply = self._preflight(cors)
        else:
            try:
                with self.door._lock:
                    self._match()
                self._throttle()
                self._authorize()
                reply = self._integrate()
            except _GatewayError as error:
                reply = _json_reply(error.status, {"message": error.message})
            if cors:
                self._cors_headers(cors, reply)
        reply.set_header("apigw-requestid", self.request.extended_id)
        return reply

    # -- routing ---------------------------------------------------------------------------------

    def _match(self) -> None:
        candidates = []
        default = None
        for route in self.api.routes.values():
            if route.route_key == "$default":
                default = route
                continue
            method, _, template = route.route_key.partition(" ")
            if method not in (self.request.method, "ANY"):
                continue
            params = match_path(template, self.request.path)
            if params is not None:
                candidates.append(((*rank_template(template), method == "ANY"), route, params))
        if candidates:
            _, self.route, self.path_params = min(candidates, key=lambda c: c[0])
            self.route_key = self.route.route_key
        elif default is not None:
            self.route = default
        else:
            raise _GatewayError("RESOURCE_NOT_FOUND", 404, "Not Found")

    def _throttle(self) -> None:
        """The stage's route throttle (RouteSettings of this route key, else DefaultRouteSettings) → 429."""
        route_settings = (getattr(self.stage, "route_settings", None) or {}).get(self.route_key) or {}
        defaults = getattr(self.stage, "default_route_settings", None) or {}
        rate = route_settings.get("throttlingRateLimit", defaults.get("throttlingRateLimit"))
        burst = route_settings.get("throttlingBurstLimit", defaults.get("throttlingBurstLimit"))
        if not self.door.limits.take(("http-stage", self.api.api_id, self.stage.name, self.route_key), rate, burst):
            raise _GatewayError("THROTTLED", 429, "Too Many Requests")

    @property
    def route_arn(self) -> str:
        return (
            f"arn:aws:execute-api:{self.door.region}:{self.door.account_id}:{self.api.api_id}/"
            f"{self.stage.name}/{self.request.method}{self.request.path}"
        )

    # -- events ----------------------------------------------------------------------------------

    def _header_map(self) -> dict[str, str]:
        headers: dict[str, list[str]] = {}
        for key, value in self.request.headers:
            headers.setdefault(key.lower(), []).append(value)
        return {k: ",".join(v) for k, v in headers.items()}

    def _request_context(self) -> dict[str, Any]:
        request = self.request
        context: dict[str, Any] = {
            "accountId": self.door.account_id,
            "apiId": self.api.api_id,
            "domainName": request.host or f"{self.api.api_id}.execute-api.{self.door.region}.amazonaws.com",
            "domainPrefix": request.domain_prefix(self.api.api_id),
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent") or "",
            },
            "requestId": request.extended_id,
            "routeKey": self.route_key,
            "stage": self.stage.name,
            "time": request.request_time,
            "timeEpoch": request.epoch_ms,
        }
        if self.authorizer is not None:
            context["authorizer"] = self.authorizer
        return context

    def _event_v2(self) -> dict[str, Any]:
        request = self.request
        media = request.media_type if request.header("content-type") else "text/plain"
        binary = not any(t in media for t in _TEXT_TYPES)
        body, is_base64 = _decode_body(request, binary)
        headers = self._header_map()
        cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
        query: dict[str, list[str]] = {}
        for key, value in request.query:
            query.setdefault(key, []).append(value)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": request.raw_path,
            "rawQueryString": request.raw_query,
            "headers": headers,
            "requestContext": self._request_context(),
            "isBase64Encoded": is_base64,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
        if self.path_params:
            event["pathParameters"] = dict(self.path_params)
        if self.stage_variables:
            event["stageVariables"] = dict(self.stage_variables)
        if body is not None:
            event["body"] = body
        return event

    def _event_v1(self) -> dict[str, Any]:
        request = self.request
        body, is_base64 = _decode_body(request, False)
        route_path = self.route_key.partition(" ")[2] if self.route_key != "$default" else "$default"
        context = self._request_context()
        context.update(
            {
                "httpMethod": request.method,
                "path": request.raw_path,
                "resourcePath": route_path,
                "resourceId": self.route.route_id,
                "protocol": "HTTP/1.1",
                "requestTime": request.request_time,
                "requestTimeEpoch": request.epoch_ms,
                "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent")},
            }
        )
        return {
            "version": "1.0",
            "resource": route_path,
            "path": request.raw_path,
            "httpMethod": request.method,
            "headers": request.header_map() or None,
            "multiValueHeaders": request.multi_headers() or None,
            "queryStringParameters": request.query_map() or None,
            "multiValueQueryStringParameters": request.multi_query() or None,
            "requestContext": context,
            "pathParameters": self.path_params or None,
            "stageVariables": self.stage_variables or None,
            "body": body,
            "isBase64Encoded": is_base64,
        }

    # -- authorization ---------------------------------------------------------------------------

    def _identity(self, source: str) -> str | None:
        source = source.strip()
        if source.startswith("$request.header."):
            return self.request.header(source[len("$request.header.") :])
        if source.startswith("$request.querystring."):
            values = self.request.multi_query().get(source[len("$request.querystring.") :])
            return ",".join(values) if values else None
        if source.startswith("$stageVariables."):
            return self.stage_variables.get(source[len("$stageVariables.") :])
        if source.startswith("$context."):
            value: Any = self._request_context()
            for part in source[len("$context.") :].split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return None if value is None else str(value)
        return None

    def _authorize(self) -> None:
        auth_type = (self.route.authorization_type or "NONE").upper()
        if auth_type in ("NONE", "AWS_IAM"):
            if auth_type == "AWS_IAM":
                # Accepted without SigV4 verification; the caller's access key is recorded.
                credential = re.search(r"Credential=([^/,\s]+)/", self.request.header("authorization") or "")
                self.authorizer = {"iam": {"accessKey": credential.group(1) if credential else None}}
            return
        with self.door._lock:
            authorizer = self.api.authorizers.get(self.route.authorizer_id)
        if authorizer is None:
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, "Internal Server Error")
        if auth_type == "JWT" or authorizer.authorizer_type == "JWT":
            self._authorize_jwt(authorizer)
        else:
            self._authorize_lambda(authorizer)

    def _authorize_jwt(self, authorizer: Any) -> None:
        sources = authorizer.identity_source or ["$request.header.Authorization"]
        token = self._identity(sources[0] if isinstance(sources, list) else sources)
        if not token:
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        config = authorizer.jwt_config or {}
        try:
            claims = _verify_jwt(
                token,
                issuers=[config.get("issuer", "")],
                audience=list(config.get("audience") or []),
                account_id=self.door.account_id,
                now=self.door.clock(),
            )
        except Exception:
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized") from None
        granted = str(claims.get("scope", claims.get("scp", ""))).split()
        required = self.route.authorization_scopes or []
        if required and not set(required) & set(granted):
            raise _GatewayError("ACCESS_DENIED", 403, "Forbidden")
        self.authorizer = {"jwt": {"claims": _stringify_claims(claims), "scopes": granted or None}}

    def _authorize_lambda(self, authorizer: Any) -> None:
        sources = authorizer.identity_source or []
        sources = sources if isinstance(sources, list) else [s for s in str(sources).split(",") if s.strip()]
        values = tuple(self._identity(s) for s in sources)
        if any(not v for v in values):
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        function_arn = _lambda_arn(authorizer.authorizer_uri, self.stage_variables)
        if function_arn is None:
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, "Internal Server Error")
        version = authorizer.auth_payload_format_version or "2.0"
        if version == "2.0":
            event = self._event_v2()
            event.pop("body", None)
            event.pop("isBase64Encoded", None)
            event.update({"type": "REQUEST", "routeArn": self.route_arn, "identitySource": list(values)})
        else:
            event = self._event_v1()
            event.pop("body", None)
            event.pop("isBase64Encoded", None)
            event.update({"type": "REQUEST", "methodArn": self.route_arn, "identitySource": ",".join(values)})

        def call() -> tuple[bool, Any]:
            try:
                result = self.door.invoke(function_arn, event)
            except (LambdaInvocationError, _IntegrationFailure):
                return False, ("error", None)
            return isinstance(result, dict), ("ok", result)

        ttl = int(authorizer.auth_result_ttl or 0) if sources else 0
        key = (self.api.api_id, self.stage.name, authorizer.id, *values)
        outcome, result = self.door._cached(key, ttl, call)
        if outcome == "error" or not isinstance(result, dict):
            raise _GatewayError("AUTHORIZER_FAILURE", 500, "Internal Server Error")
        if authorizer.enable_simple_response and version == "2.0":
            allowed = result.get("isAuthorized") is True
        else:
            try:
                allowed = _policy_decision(result.get("policyDocument"), self.route_arn) == "Allow"
            except (ValueError, AttributeError, TypeError):
                raise _GatewayError("AUTHORIZER_FAILURE", 500, "Internal Server Error") from None
        if not allowed:
            raise _GatewayError("ACCESS_DENIED", 403, "Forbidden")
        context = dict(result.get("context") or {})
        if "principalId" in result:
            context.setdefault("principalId", result["principalId"])
        self.authorizer = {"lambda": context}

    # -- integration -----------------------------------------------------------------------------

    def _integrate(self) -> _Reply:
        target = self.route.target or ""
        integration_id = target.removeprefix("integrations/")
        with self.door._lock:
            integration = self.api.integrations.get(integration_id)
        if integration is None:
            raise _GatewayError("INTEGRATION_FAILURE", 500, "Internal Server Error")
        kind = (integration.integration_type or "").upper()
        try:
            if kind == "AWS_PROXY" and integration.integration_subtype:
                return self._service(integration)
            if kind == "AWS_PROXY":
                return self._lambda(integration)
            if kind == "HTTP_PROXY":
                return self._http_proxy(integration)
        except _IntegrationTimeout as failure:
            # HTTP APIs answer a backend slower than the integration timeout with 503, not 504.
            _LOG.warning("integration timed out for %s %s: %s", self.request.method, self.request.path, failure)
            raise _GatewayError("INTEGRATION_TIMEOUT", 503, "Service Unavailable") from None
        except (_IntegrationFailure, _BackendUnreachable) as failure:
            _LOG.warning("integration failed for %s %s: %s", self.request.method, self.request.path, failure)
            raise _GatewayError("INTEGRATION_FAILURE", 500, "Internal Server Error") from None
        raise _GatewayError("INTEGRATION_FAILURE", 500, "Internal Server Error")

    def _lambda(self, integration: Any) -> _Reply:
        function_arn = _lambda_arn(integration.integration_uri, self.stage_variables)
        if function_arn is None:
            raise _IntegrationFailure(f"not a Lambda integration: {integration.integration_uri}")
        version = integration.payload_format_version or "2.0"
        event = self._event_v2() if version == "2.0" else self._event_v1()
        try:
            result = self.door.invoke(function_arn, event)
        except LambdaInvocationError as error:
            _LOG.info("Lambda %s failed: %s", function_arn, error.payload.get("errorMessage"))
            return _json_reply(500, {"message": "Internal Server Error"})
        reply = _v2_response(result) if version == "2.0" else _proxy_response(result)
        if reply is None:
            _LOG.warning("Malformed Lambda proxy response from %s: %r", function_arn, result)
            return _json_reply(500, {"message": "Internal Server Error"})
        return reply

    def _parameter(self, expression: Any) -> Any:
        """Evaluate an HTTP API parameter mapping value ($request.*, $context.*, $stageVariables.*)."""
        if not isinstance(expression, str):
            return expression

        def lookup(source: str) -> str:
            if source == "request.body":
                return self.request.text
            if source.startswith("request.body"):
                try:
                    document = json.loads(self.request.text or "{}")
                except ValueError:
                    return ""
                value = vtl.json_path(document, "$" + source[len("request.body") :])
                return "" if value is None else value if isinstance(value, str) else json.dumps(value)
            if source.startswith("request.path."):
                return self.path_params.get(source[len("request.path.") :], "")
            return self._identity("$" + source) or ""

        whole = re.fullmatch(
            r"\$(request\.[A-Za-z0-9_.\-\[\]'*$]+|context\.[A-Za-z0-9_.]+|stageVariables\.\w+)", expression
        )
        if whole:
            return lookup(whole.group(1))
        return re.sub(r"\$\{([^}]+)\}", lambda m: lookup(m.group(1)), expression)

    def _service(self, integration: Any) -> _Reply:
        subtype = integration.integration_subtype
        if subtype not in _SUBTYPES:
            raise _IntegrationFailure(f"IntegrationSubtype {subtype} is not supported locally")
        service, action = _SUBTYPES[subtype]
        params = {k: self._parameter(v) for k, v in (integration.request_parameters or {}).items()}
        region = self.door.region
        if service == "events":
            entry = {k: v for k, v in params.items() if k != "Region"}
            region = params.get("Region") or region
            document: dict[str, Any] = {"Entries": [entry]}
        else:
            document = {k: v for k, v in params.items() if k != "Region"}
            region = params.get("Region") or region
            if "MessageAttributes" in document and isinstance(document["MessageAttributes"], str):
                document["MessageAttributes"] = json.loads(document["MessageAttributes"])
            if service == "states":
                # The integration's parameters are PascalCase; the Step Functions API is camelCase.
                document = {k[:1].lower() + k[1:]: v for k, v in document.items()}
        metadata = self.door._dispatcher.metadata(service)
        headers = {
            "X-Amz-Target": f"{metadata['targetPrefix']}.{action}",
            "Content-Type": f"application/x-amz-json-{metadata.get('jsonVersion', '1.0')}",
        }
        with self.door._lock:
            status, _response_headers, payload = self.door._dispatcher.call(
                service=service,
                region=region,
                account_id=self.door.account_id,
                method="POST",
                path="/",
                query=[],
                headers=headers,
                body=json.dumps(document).encode(),
            )
        return _Reply(status, [("Content-Type", "application/json")], payload)

    def _http_proxy(self, integration: Any) -> _Reply:
        uri = _STAGE_VARIABLE.sub(lambda m: self.stage_variables.get(m.group(1), ""), integration.integration_uri or "")
        url = _fill_path(uri, {}, self.path_params)
        if self.request.raw_query:
            url += ("&" if "?" in url else "?") + self.request.raw_query
        headers = {k: v for k, v in self.request.header_map().items() if k.lower() not in _HOP_BY_HOP}
        method = integration.integration_method or "ANY"
        status, response_headers, payload = _http_call(
            self.request.method if method == "ANY" else method,
            url,
            headers,
            self.request.body,
            integration_timeout(integration.timeout_in_millis, "HTTP"),
            self.door.resolve_integration_url,
        )
        return _Reply(status, [(k, v) for k, v in response_headers.items() if k.lower() not in _HOP_BY_HOP], payload)

    # -- CORS ------------------------------------------------------------------------------------

    @staticmethod
    def _allowed_origin(cors: dict[str, Any], origin: str | None) -> str | None:
        origins = cors.get("allowOrigins") or []
        if not origin:
            return None
        if "*" in origins:
            return "*" if not cors.get("allowCredentials") else origin
        return origin if origin in origins else None

    def _preflight(self, cors: dict[str, Any]) -> _Reply:
        reply = _Reply(204, [])
        origin = self._allowed_origin(cors, self.request.header("origin"))
        if origin is None:
            return reply
        reply.set_header("Access-Control-Allow-Origin", origin)
        methods = cors.get("allowMethods") or []
        requested = self.request.header("access-control-request-method") or ""
        if methods:
            reply.set_header("Access-Control-Allow-Methods", "*" if "*" in methods else ",".join(methods))
        elif requested:
            reply.set_header("Access-Control-Allow-Methods", requested)
        if cors.get("allowHeaders"):
            reply.set_header("Access-Control-Allow-Headers", ",".join(cors["allowHeaders"]))
        if cors.get("maxAge") is not None:
            reply.set_header("Access-Control-Max-Age", str(cors["maxAge"]))
        if cors.get("allowCredentials"):
            reply.set_header("Access-Control-Allow-Credentials", "true")
        return reply

    def _cors_headers(self, cors: dict[str, Any], reply: _Reply) -> None:
        origin = self._allowed_origin(cors, self.request.header("origin"))
        if origin is None:
            return
        reply.set_header("Access-Control-Allow-Origin", origin)
        if cors.get("exposeHeaders"):
            reply.set_header("Access-Control-Expose-Headers", ",".join(cors["exposeHeaders"]))
        if cors.get("allowCredentials"):
            reply.set_header("Access-Control-Allow-Credentials", "true")


def _v2_response(result: Any) -> _Reply | None:
    """Payload 2.0 response: full form with statusCode, or any JSON value → 200 application/json."""
    if isinstance(result, dict) and "statusCode" in result:
        try:
            status = int(result["statusCode"])
        except (TypeError, ValueError):
            return None
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        headers = [(k, _scalar(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(c)) for c in result.get("cookies") or []]
        return _proxy_reply(status, headers, body, result.get("isBase64Encoded"))
    return _Reply(200, [("Content-Type", "application/json")], json.dumps(result).encode())
