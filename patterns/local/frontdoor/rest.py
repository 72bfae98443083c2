"""A REST API invocation: resources and methods, validators, authorizers, mapping templates, integrations."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from . import vtl
from .authorizers import _policy_decision, _stringify_claims, _verify_jwt
from .limits import method_setting
from .requests import (
    _HOP_BY_HOP,
    _LOG,
    _SERVICE_URI,
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
    _media_matches,
    _Reply,
    _Request,
    integration_timeout,
    match_path,
    rank_template,
)
from .services import _xml_to_json

if TYPE_CHECKING:
    from .apigateway import FrontDoor

class _RestInvocation(_Invocation):
    """One request against a REST API stage, following API Gateway's request pipeline."""

    def __init__(self, door: FrontDoor, api: Any, stage: Any, request: _Request) -> None:
        super().__init__(door, api, stage, request, stage.variables)
        self.resource: Any = None
        self.resource_path = ""
        self.method: Any = None
        self.authorizer_context: dict[str, Any] | None = None
        self.identity: dict[str, Any] = {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": request.source_ip,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": request.header("user-agent"),
            "user": None,
            "apiKey": None,
            "apiKeyId": None,
        }
        self.trace_id = (
            f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Sampled=1" if stage.tracing_enabled else None
        )
        self.vtl_context: dict[str, Any] = {}
        #: The usage plan and API key of a request to an ApiKeyRequired method (its limits apply).
        self.usage_plan: Any = None
        self.api_key_id: str | None = None

    # -- pipeline --------------------------------------------------------------------------------

    def run(self) -> _Reply:
        try:
            with self.door._lock:
                self._match()
            self._authorize()
            self._check_api_key()
            self._throttle()
            self._validate()
            reply = self._integrate()
        except _GatewayError as error:
            reply = self._gateway_response(error)
        reply.set_header("x-amzn-RequestId", self.request.request_id)
        reply.set_header("x-amz-apigw-id", self.request.extended_id)
        if self.trace_id:
            reply.set_header("X-Amzn-Trace-Id", self.trace_id)
        return reply

    def _match(self) -> None:
        candidates = []
        for resource in self.api.resources.values():
            template = resource.get_path()
            params = match_path(template, self.request.path)
            if params is not None:
                candidates.append((rank_template(template), template, resource, params))
        if candidates:
            # API Gateway picks the most specific resource first, then the method on it (or ANY);
            # a method missing there is an error even if a greedy parent has one.
            _, template, resource, params = min(candidates, key=lambda c: c[0])
            method = resource.resource_methods.get(self.request.method) or resource.resource_methods.get("ANY")
            if method is not None:
                self.resource, self.method, self.path_params = resource, method, params
                self.resource_path = template
                return
        raise _GatewayError("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")

    @property
    def method_arn(self) -> str:
        """``arn:aws:execute-api:region:account:api/stage/METHOD/request/path`` (values, not templates)."""
        return (
            f"arn:aws:execute-api:{self.door.region}:{self.door.account_id}:{self.api.id}/"
            f"{self.stage.name}/{self.request.method}{self.request.path}"
        )

    # -- authorization ---------------------------------------------------------------------------

    def _authorize(self) -> None:
        auth_type = (self.method.authorization_type or "NONE").upper()
        if auth_type == "NONE":
            return
        if auth_type == "AWS_IAM":
            # No SigV4 verification in the local cloud: accept, and record the caller's access key.
            credential = re.search(r"Credential=([^/,\s]+)/", self.request.header("authorization") or "")
            self.identity["accessKey"] = credential.group(1) if credential else None
            self.identity["caller"] = self.identity["accessKey"]
            return
        with self.door._lock:
            authorizer = self.api.authorizers.get(self.method.authorizer_id)
        if authorizer is None:
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
        if auth_type == "COGNITO_USER_POOLS" or authorizer.type == "COGNITO_USER_POOLS":
            self._authorize_cognito(authorizer)
        elif authorizer.type == "TOKEN":
            self._authorize_token(authorizer)
        elif authorizer.type == "REQUEST":
            self._authorize_request(authorizer)
        else:
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None)

    def _identity_value(self, source: str) -> str | None:
        source = source.strip()
        prefixes = {
            "method.request.header.": lambda n: self.request.header(n),
            "method.request.querystring.": lambda n: self.request.query_map().get(n),
            "method.request.multivaluequerystring.": lambda n: ",".join(self.request.multi_query().get(n, [])),
            "method.request.path.": lambda n: self.path_params.get(n),
            "stageVariables.": lambda n: self.stage_variables.get(n),
            "context.": lambda n: self._context_value(n),
        }
        for prefix, getter in prefixes.items():
            if source.startswith(prefix):
                value = getter(source[len(prefix) :])
                return value or None
        return None

    def _context_value(self, dotted: str) -> Any:
        value: Any = self._vtl_context()
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return None if value is None else str(value)

    def _authorize_token(self, authorizer: Any) -> None:
        token = self._identity_value(authorizer.identity_source or "method.request.header.Authorization")
        if not token:
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        expression = authorizer.identity_validation_expression
        if expression and not re.fullmatch(expression, token):
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": self.method_arn}
        self._run_lambda_authorizer(authorizer, event, (token,))

    def _authorize_request(self, authorizer: Any) -> None:
        sources = [s for s in (authorizer.identity_source or "").split(",") if s.strip()]
        values = tuple(self._identity_value(s) for s in sources)
        if any(v is None for v in values):
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        event = {"type": "REQUEST", "methodArn": self.method_arn, **self._proxy_event()}
        event.pop("body", None)
        event.pop("isBase64Encoded", None)
        # Without identity sources API Gateway cannot cache (every request calls the authorizer).
        self._run_lambda_authorizer(authorizer, event, values if sources else None)

    def _run_lambda_authorizer(self, authorizer: Any, event: dict[str, Any], cache_key: tuple[Any, ...] | None) -> None:
        function_arn = _lambda_arn(authorizer.authorizer_uri, self.stage_variables)
        if function_arn is None:
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None)

        def call() -> tuple[bool, Any]:
            started = time.monotonic()
            try:
                result = self.door.invoke(function_arn, event)
            except LambdaInvocationError as error:
                return False, ("error", error.payload.get("errorMessage"), 0)
            except _IntegrationFailure:
                return False, ("error", None, 0)
            # Only a policy is cached; a malformed answer is a 500 for every request until it is fixed.
            return isinstance(result, dict), ("ok", result, int((time.monotonic() - started) * 1000))

        ttl = int(authorizer.authorizer_result_ttl or 0) if cache_key is not None else 0
        key = (self.api.id, self.stage.name, authorizer.id, *(cache_key or ()))
        outcome, result, latency = self.door._cached(key, ttl, call)
        if outcome == "error":
            if result == "Unauthorized":
                raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
        if not isinstance(result, dict) or "principalId" not in result:
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
        try:
            decision = _policy_decision(result.get("policyDocument"), self.method_arn)
        except (ValueError, AttributeError, TypeError):
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None) from None
        if decision == "Deny":
            raise _GatewayError(
                "ACCESS_DENIED", 403, "User is not authorized to access this resource with an explicit deny"
            )
        if decision != "Allow":
            raise _GatewayError("ACCESS_DENIED", 403, "User is not authorized to access this resource")
        context = result.get("context") or {}
        if not isinstance(context, dict) or any(isinstance(v, dict | list) for v in context.values()):
            raise _GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, None)
        self.authorizer_context = {**context, "principalId": result["principalId"], "integrationLatency": latency}
        if result.get("usageIdentifierKey"):
            self.authorizer_context["usageIdentifierKey"] = result["usageIdentifierKey"]

    def _authorize_cognito(self, authorizer: Any) -> None:
        token = self._identity_value(authorizer.identity_source or "method.request.header.Authorization")
        if not token:
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        issuers = []
        for arn in authorizer.provider_arns or []:
            parts = arn.split(":")
            issuers.append(f"https://cognito-idp.{parts[3]}.amazonaws.com/{parts[5].split('/', 1)[1]}")
        try:
            claims = _verify_jwt(
                token, issuers=issuers, audience=None, account_id=self.door.account_id, now=self.door.clock()
            )
        except Exception:
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized") from None
        scopes = self.method.authorization_scopes or []
        if scopes:
            granted = str(claims.get("scope", "")).split()
            if claims.get("token_use") != "access" or not set(scopes) & set(granted):
                raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        elif claims.get("token_use") not in (None, "id"):
            # Without authorization scopes API Gateway expects an ID token.
            raise _GatewayError("UNAUTHORIZED", 401, "Unauthorized")
        self.authorizer_context = {"claims": _stringify_claims(claims)}
        self.identity["cognitoAuthenticationType"] = "authenticated"

    def _check_api_key(self) -> None:
        if not self.method.api_key_required:
            return
        from moto.apigateway.models import apigateway_backends

        if (self.api.api_key_source or "HEADER") == "AUTHORIZER":
            value = (self.authorizer_context or {}).get("usageIdentifierKey")
        else:
            value = self.request.header("x-api-key")
        with self.door._lock:
            backend = apigateway_backends[self.door.account_id][self.door.region]
            key = next((k for k in backend.keys.values() if value and k.value == value and k.enabled), None)
            plan = None
            if key is not None:
                plan = next(
                    (
                        plan
                        for plan in backend.usage_plans.values()
                        if key.id in backend.usage_plan_keys.get(plan.id, {})
                        and any(
                            s.get("apiId") == self.api.id and s.get("stage") == self.stage.name
                            for s in plan.api_stages
                        )
                    ),
                    None,
                )
        if key is None or plan is None:
            raise _GatewayError("INVALID_API_KEY", 403, "Forbidden")
        self.identity["apiKey"] = value
        self.identity["apiKeyId"] = key.id
        self.usage_plan, self.api_key_id = plan, key.id

    def _throttle(self) -> None:
        """Usage plan quota and throttles of the caller's key, then the stage's method throttle → 429."""
        limits = self.door.limits
        method_key = f"{self.resource_path}/{self.method.http_method}"
        plan = self.usage_plan
        if plan is not None:
            if plan.quota and not limits.count(("quota", plan.id, self.api_key_id), plan.quota):
                raise _GatewayError("QUOTA_EXCEEDED", 429, "Limit Exceeded")
            stage_entry = next(
                (s for s in plan.api_stages if s.get("apiId") == self.api.id and s.get("stage") == self.stage.name),
                {},
            )
            per_method = (stage_entry.get("throttle") or {}).get(method_key)
            if per_method and not limits.take(
                ("plan-method", plan.id, self.api_key_id, self.api.id, self.stage.name, method_key),
                per_method.get("rateLimit"),
                per_method.get("burstLimit"),
            ):
                raise _GatewayError("THROTTLED", 429, "Too Many Requests")
            throttle = plan.throttle or {}
            if throttle and not limits.take(
                ("plan", plan.id, self.api_key_id), throttle.get("rateLimit"), throttle.get("burstLimit")
            ):
                raise _GatewayError("THROTTLED", 429, "Too Many Requests")
        with self.door._lock:
            settings = method_setting(
                dict(self.stage.method_settings or {}), self.resource_path, self.method.http_method
            )
        if settings and not limits.take(
            ("stage", self.api.id, self.stage.name, method_key),
            settings.get("throttlingRateLimit"),
            settings.get("throttlingBurstLimit"),
        ):
            raise _GatewayError("THROTTLED", 429, "Too Many Requests")

    # -- validation ------------------------------------------------------------------------------

    def _validate(self) -> None:
        validator_id = self.method.request_validator_id
        if not validator_id:
            return
        with self.door._lock:
            validator = self.api.request_validators.get(validator_id)
            models = {name: model.schema for name, model in self.api.models.items()}
        if validator is None:
            raise _GatewayError("API_CONFIGURATION_ERROR", 500, "Internal server error")
        if validator.validate_request_parameters:
            missing = []
            for key, required in (self.method.request_parameters or {}).items():
                if not required:
                    continue
                location, _, name = key.removeprefix("method.request.").partition(".")
                present = {
                    "querystring": lambda n: n in self.request.query_map(),
                    "multivaluequerystring": lambda n: n in self.request.query_map(),
                    "header": lambda n: self.request.header(n) is not None,
                    "multivalueheader": lambda n: self.request.header(n) is not None,
                    "path": lambda n: bool(self.path_params.get(n)),
                }.get(location, lambda n: True)(name)
                if not present:
                    missing.append(name)
            if missing:
                message = f"Missing required request parameters: [{', '.join(missing)}]"
                raise _GatewayError("BAD_REQUEST_PARAMETERS", 400, message)
        if validator.validate_request_body and self.method.request_models:
            models_by_type = self.method.request_models
            model_name = models_by_type.get(self.request.media_type) or models_by_type.get("$default")
            if not model_name or model_name == "Empty" or model_name not in models:
                return
            errors = _schema_errors(self.api.id, model_name, models, self.request.text)
            if errors:
                raise _GatewayError("BAD_REQUEST_BODY", 400, "Invalid request body", "[" + ", ".join(errors) + "]")

    # -- integration -----------------------------------------------------------------------------

    def _integrate(self) -> _Reply:
        integration = self.method.method_integration
        if integration is None:
            raise _GatewayError("API_CONFIGURATION_ERROR", 500, "Internal server error")
        kind = (integration.integration_type or "").upper()
        try:
            if kind == "AWS_PROXY":
                return self._lambda_proxy(integration)
            if kind == "MOCK":
                return self._mock(integration)
            if kind in ("AWS", "HTTP"):
                return self._non_proxy(integration, kind)
            if kind == "HTTP_PROXY":
                return self._http_proxy(integration)
        except _IntegrationTimeout as failure:
            _LOG.warning("integration timed out for %s %s: %s", self.request.method, self.request.path, failure)
            raise _GatewayError("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out") from None
        except _BackendUnreachable as failure:
            # The backend could not be reached (refused, reset): a 502 with API Gateway's generic body.
            _LOG.warning("integration unreachable for %s %s: %s", self.request.method, self.request.path, failure)
            raise _GatewayError("INTEGRATION_FAILURE", 502, "Internal server error") from None
        except _IntegrationFailure as failure:
            _LOG.warning("integration failed for %s %s: %s", self.request.method, self.request.path, failure)
            raise _GatewayError("INTEGRATION_FAILURE", 500, "Internal server error") from None
        except vtl.VtlInputError as error:
            raise _GatewayError("BAD_REQUEST_BODY", 400, str(error)) from None
        except vtl.VtlError as error:
            _LOG.warning("mapping template failed for %s %s: %s", self.request.method, self.request.path, error)
            raise _GatewayError("API_CONFIGURATION_ERROR", 500, "Internal server error") from None
        raise _GatewayError("API_CONFIGURATION_ERROR", 500, "Internal server error")

    def _binary_request(self) -> bool:
        return _media_matches(self.request.media_type, self.api.binaryMediaTypes or []) and bool(
            self.request.header("content-type")
        )

    def _proxy_event(self) -> dict[str, Any]:
        request = self.request
        body, is_base64 = _decode_body(request, self._binary_request())
        headers = request.header_map()
        multi_headers = request.multi_headers()
        if self.trace_id:
            headers["X-Amzn-Trace-Id"] = self.trace_id
            multi_headers["X-Amzn-Trace-Id"] = [self.trace_id]
        request_context: dict[str, Any] = {
            "resourceId": self.resource.id,
            "resourcePath": self.resource_path,
            "httpMethod": request.method,
            "extendedRequestId": request.extended_id,
            "requestTime": request.request_time,
            "path": self._context_path(),
            "accountId": self.door.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage.name,
            "domainPrefix": request.domain_prefix(self.api.id),
            "requestTimeEpoch": request.epoch_ms,
            "requestId": request.request_id,
            "identity": dict(self.identity),
            "domainName": request.host or f"{self.api.id}.execute-api.{self.door.region}.amazonaws.com",
            "deploymentId": self.stage.deployment_id,
            "apiId": self.api.id,
        }
        if self.authorizer_context is not None:
            request_context["authorizer"] = dict(self.authorizer_context)
        return {
            "resource": self.resource_path,
            "path": request.raw_path if request.base_path is not None else request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": request.query_map() or None,
            "multiValueQueryStringParameters": request.multi_query() or None,
            "pathParameters": self.path_params or None,
            "stageVariables": self.stage_variables or None,
            "requestContext": request_context,
            "body": body,
            "isBase64Encoded": is_base64,
        }

    def _context_path(self) -> str:
        """``$context.path``: ``/<stage>/<path>`` on the execute-api URL, the full path on a custom domain."""
        if self.request.base_path is not None:
            return self.request.raw_path
        return f"/{self.stage.name}{self.request.path}"

    def _lambda_proxy(self, integration: Any) -> _Reply:
        function_arn = _lambda_arn(integration.uri, self.stage_variables)
        if function_arn is None:
            raise _IntegrationFailure(f"AWS_PROXY integration URI is not a Lambda function: {integration.uri}")
        try:
            result = self.door.invoke(function_arn, self._proxy_event())
        except LambdaInvocationError as error:
            _LOG.info("Lambda %s failed: %s", function_arn, error.payload.get("errorMessage"))
            return _json_reply(502, {"message": "Internal server error"})
        reply = _proxy_response(result)
        if reply is None:
            _LOG.warning("Malformed Lambda proxy response from %s: %r", function_arn, result)
            return _json_reply(502, {"message": "Internal server error"})
        return reply

    # ---- non-proxy integrations -----------------------------------------------------------------

    def _vtl_context(self) -> dict[str, Any]:
        if not self.vtl_context:
            request = self.request
            self.vtl_context = {
                "requestId": request.request_id,
                "extendedRequestId": request.extended_id,
                "awsEndpointRequestId": request.request_id,
                "requestTime": request.request_time,
                "requestTimeEpoch": request.epoch_ms,
                "stage": self.stage.name,
                "httpMethod": request.method,
                "resourcePath": self.resource_path or None,
                "resourceId": self.resource.id if self.resource is not None else None,
                "path": self._context_path(),
                "apiId": self.api.id,
                "accountId": self.door.account_id,
                "domainName": request.host,
                "domainPrefix": request.domain_prefix(self.api.id),
                "protocol": "HTTP/1.1",
                "identity": self.identity,
                "authorizer": dict(self.authorizer_context or {}),
                "responseOverride": {"status": None, "header": {}},
                "requestOverride": {"header": {}, "querystring": {}, "path": {}},
                "error": {},
            }
        return self.vtl_context

    def _variables(self, body: str) -> dict[str, Any]:
        return {
            "input": vtl.InputVariable(body, self.path_params, self.request.query_map(), self.request.header_map()),
            "util": vtl.UtilVariable(),
            "context": self._vtl_context(),
            "stageVariables": self.stage_variables,
        }

    def _request_body(self, integration: Any) -> bytes:
        """Apply the request mapping template selected by Content-Type (or pass the body through)."""
        templates = integration.request_templates or {}
        behavior = (integration.passthrough_behaviour or "WHEN_NO_MATCH").upper()
        media_type = self.request.media_type
        template = templates.get(media_type)
        if template is None and media_type not in templates:
            if (templates and behavior != "WHEN_NO_MATCH") or (not templates and behavior == "NEVER"):
                raise _GatewayError("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type")
            return self.request.body
        return vtl.render(template or "", self._variables(self.request.text)).encode("utf-8")

    def _mapped_value(self, expression: str, response: tuple[int, dict[str, str], bytes] | None = None) -> str | None:
        """Evaluate a parameter-mapping source: 'literal', method.request.*, stageVariables.*, context.*."""
        expression = expression.strip()
        if len(expression) >= 2 and expression[0] == expression[-1] == "'":
            return expression[1:-1]
        if expression.startswith("method.request.body"):
            if expression == "method.request.body":
                return self.request.text
            try:
                value = vtl.json_path(
                    json.loads(self.request.text or "{}"), "$" + expression[len("method.request.body") :]
                )
            except ValueError:
                return None
            return None if value is None else value if isinstance(value, str) else json.dumps(value)
        if response is not None and expression.startswith("integration.response."):
            _, headers, body = response
            rest = expression[len("integration.response.") :]
            if rest.startswith("header."):
                wanted = rest[len("header.") :].lower()
                return next((v for k, v in headers.items() if k.lower() == wanted), None)
            if rest == "body":
                return body.decode("utf-8", errors="replace")
            if rest.startswith("body."):
                try:
                    value = vtl.json_path(json.loads(body or b"{}"), "$" + rest[4:])
                except ValueError:
                    return None
                return None if value is None else value if isinstance(value, str) else json.dumps(value)
            return None
        return self._identity_value(expression)

    def _integration_request_parameters(
        self, integration: Any
    ) -> tuple[dict[str, str], list[tuple[str, str]], dict[str, str]]:
        headers: dict[str, str] = {}
        query: list[tuple[str, str]] = []
        path: dict[str, str] = {}
        for target, source in (integration.request_parameters or {}).items():
            value = self._mapped_value(source)
            if value is None:
                continue
            location, _, name = target.removeprefix("integration.request.").partition(".")
            if location in ("header", "multivalueheader"):
                headers[name] = value
            elif location in ("querystring", "multivaluequerystring"):
                query.append((name, value))
            elif location == "path":
                path[name] = value
        return headers, query, path

    def _apply_request_overrides(
        self, headers: dict[str, str], query: list[tuple[str, str]], path: dict[str, str]
    ) -> list[tuple[str, str]]:
        overrides = self._vtl_context()["requestOverride"]
        headers.update({k: vtl.to_vtl_string(v) for k, v in overrides["header"].items()})
        path.update({k: vtl.to_vtl_string(v) for k, v in overrides["path"].items()})
        if overrides["querystring"]:
            names = set(overrides["querystring"])
            query = [(k, v) for k, v in query if k not in names]
            query += [(k, vtl.to_vtl_string(v)) for k, v in overrides["querystring"].items()]
        return query

    def _mock(self, integration: Any) -> _Reply:
        """MOCK: the request template's ``statusCode`` selects the integration response.

        API Gateway reads it leniently: CDK's CORS preflight template is ``{ statusCode: 200 }``.
        """
        body = self._request_body(integration).decode("utf-8", errors="replace")
        status = 200
        try:
            document = json.loads(body) if body.strip() else {}
            found = document.get("statusCode") if isinstance(document, dict) else None
        except ValueError:
            match = re.search(r"[\"']?statusCode[\"']?\s*:\s*[\"']?(\d{3})", body)
            found = match.group(1) if match else None
        if found is not None:
            try:
                status = int(found)
            except (TypeError, ValueError):
                raise _GatewayError("API_CONFIGURATION_ERROR", 500, "Internal server error") from None
        return self._integration_response(integration, str(status), (status, {}, b""))

    def _non_proxy(self, integration: Any, kind: str) -> _Reply:
        body = self._request_body(integration)
        headers, query, path_params = self._integration_request_parameters(integration)
        query = self._apply_request_overrides(headers, query, path_params)
        uri = _STAGE_VARIABLE.sub(lambda m: self.stage_variables.get(m.group(1), ""), integration.uri or "")
        function_arn = _lambda_arn(uri, self.stage_variables) if kind == "AWS" else None
        if function_arn is not None:
            return self._lambda_non_proxy(integration, function_arn, body)
        if kind == "AWS":
            response = self._call_service(integration, uri, body, headers, query, path_params)
        else:
            url = _fill_path(uri, path_params, self.path_params)
            if query:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
            headers.setdefault("Content-Type", self.request.header("content-type") or "application/json")
            method = integration.http_method or self.request.method
            response = _http_call(
                method if method != "ANY" else self.request.method,
                url,
                headers,
                body,
                integration_timeout(integration.timeout_in_millis, "REST"),
                self.door.resolve_integration_url,
            )
        return self._integration_response(integration, str(response[0]), response)

    def _lambda_non_proxy(self, integration: Any, function_arn: str, body: bytes) -> _Reply:
        text = body.decode("utf-8", errors="replace").strip()
        try:
            event = json.loads(text) if text else {}
        except ValueError:
            raise _GatewayError("BAD_REQUEST_BODY", 400, "Could not parse request body into json") from None
        try:
            result = self.door.invoke(function_arn, event)
        except LambdaInvocationError as error:
            payload = json.dumps(error.payload).encode()
            message = str(error.payload.get("errorMessage") or "")
            return self._integration_response(integration, message, (200, {}, payload))
        return self._integration_response(integration, None, (200, {}, json.dumps(result).encode()))

    def _call_service(
        self,
        integration: Any,
        uri: str,
        body: bytes,
        headers: dict[str, str],
        query: list[tuple[str, str]],
        path_params: dict[str, str],
    ) -> tuple[int, dict[str, str], bytes]:
        match = _SERVICE_URI.match(uri)
        if not match:
            raise _IntegrationFailure(f"unsupported AWS integration URI {uri}")
        service, region, kind, rest = (
            match.group("service"),
            match.group("region"),
            match.group("kind"),
            match.group("rest"),
        )
        endpoint = service.split(".")[-1]
        metadata = self.door._dispatcher.metadata(endpoint)
        method = (integration.http_method or "POST").upper()
        # SQS and SNS are reached with the query (form) protocol through API Gateway.
        protocol = "query" if endpoint in ("sqs", "sns") else str(metadata.get("protocol"))
        if kind == "path":
            path = "/" + _fill_path(rest, path_params, self.path_params).lstrip("/")
            headers.setdefault("Content-Type", "application/json")
        else:
            action, *extra = rest.split("&")
            query = [*query, *(tuple(p.split("=", 1)) for p in extra if "=" in p)]  # type: ignore[misc]
            text = body.strip()
            if metadata.get("targetPrefix") and (text.startswith(b"{") or not text):
                protocol = "json"
                headers["X-Amz-Target"] = f"{metadata['targetPrefix']}.{action}"
                headers["Content-Type"] = f"application/x-amz-json-{metadata.get('jsonVersion', '1.0')}"
                body = body if text else b"{}"
            else:
                protocol = "query"
                query = [("Action", action), ("Version", metadata.get("apiVersion", "")), *query]
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            path = "/"
        with self.door._lock:
            status, response_headers, payload = self.door._dispatcher.call(
                service=service,
                region=region,
                account_id=self.door.account_id,
                method=method,
                path=path,
                query=query,
                headers=headers,
                body=body,
            )
        content_type = next((v for k, v in response_headers.items() if k.lower() == "content-type"), "")
        if protocol == "query" and "xml" in content_type and payload.strip():
            payload = _xml_to_json(payload)
            response_headers = {**response_headers, "Content-Type": "application/json"}
        return status, response_headers, payload

    def _integration_response(
        self, integration: Any, selection: str | None, response: tuple[int, dict[str, str], bytes]
    ) -> _Reply:
        """Pick the integration response by SelectionPattern, then map status, headers and body.

        ``selection`` is the HTTP status for AWS service/HTTP/MOCK integrations and the errorMessage
        of a failed non-proxy Lambda; None (a successful Lambda) selects the default response.
        """
        chosen, default = None, None
        for candidate in (integration.integration_responses or {}).values():
            pattern = candidate.selection_pattern
            if not pattern:
                default = default or candidate
            elif selection is not None and chosen is None and re.fullmatch(pattern, selection, re.DOTALL):
                chosen = candidate
        chosen = chosen or default
        if chosen is None:
            _LOG.warning("no integration response matches %r and none is the default", selection)
            raise _GatewayError("API_CONFIGURATION_ERROR", 500, "Internal server error")
        status = int(chosen.status_code)
        body_text = response[2].decode("utf-8", errors="replace")
        templates = chosen.response_templates or {}
        accept = (self.request.header("accept") or "").split(",")[0].split(";")[0].strip().lower()
        content_type = (
            accept if accept in templates else "application/json" if "application/json" in templates else None
        )
        if content_type is None and templates:
            content_type = next(iter(templates))
        headers: list[tuple[str, str]] = []
        template = templates.get(content_type) if content_type else None
        out_body = vtl.render(template, self._variables(body_text)).encode("utf-8") if template else response[2]
        headers.append(("Content-Type", content_type or "application/json"))
        for target, source in (chosen.response_parameters or {}).items():
            if not target.startswith("method.response.header."):
                continue
            value = self._mapped_value(source, response)
            if value is not None:
                headers.append((target[len("method.response.header.") :], value))
        overrides = self._vtl_context()["responseOverride"]
        if overrides.get("status") is not None:
            status = int(overrides["status"])
        reply = _Reply(status, headers, out_body)
        for name, value in overrides.get("header", {}).items():
            reply.set_header(name, vtl.to_vtl_string(value))
        return reply

    def _http_proxy(self, integration: Any) -> _Reply:
        headers, query, path_params = self._integration_request_parameters(integration)
        uri = _STAGE_VARIABLE.sub(lambda m: self.stage_variables.get(m.group(1), ""), integration.uri or "")
        url = _fill_path(uri, path_params, self.path_params)
        all_query = self.request.query + query
        if all_query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(all_query)
        forwarded = {k: v for k, v in self.request.header_map().items() if k.lower() not in _HOP_BY_HOP}
        forwarded.update(headers)
        method = integration.http_method or "ANY"
        status, response_headers, payload = _http_call(
            self.request.method if method == "ANY" else method,
            url,
            forwarded,
            self.request.body,
            integration_timeout(integration.timeout_in_millis, "REST"),
            self.door.resolve_integration_url,
        )
        kept = [(k, v) for k, v in response_headers.items() if k.lower() not in _HOP_BY_HOP]
        return _Reply(status, kept, payload)

    # -- gateway responses -----------------------------------------------------------------------

    def _gateway_response(self, error: _GatewayError) -> _Reply:
        status = error.status
        with self.door._lock:
            responses = dict(self.api.gateway_responses)
        custom = responses.get(error.response_type) or responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")
        if custom is not None and custom.status_code:
            status = int(custom.status_code)
        context = self._vtl_context()
        context["error"] = {
            "message": error.message,
            "messageString": json.dumps(error.message),
            "responseType": error.response_type,
            "validationErrorString": error.validation,
        }
        key = "Message" if error.response_type == "ACCESS_DENIED" else "message"
        template = '{"' + key + '":$context.error.messageString}'
        if custom is not None and custom.response_templates:
            template = custom.response_templates.get("application/json") or next(
                iter(custom.response_templates.values())
            )
        try:
            body = vtl.render(template, self._variables(self.request.text)).encode("utf-8")
        except vtl.VtlError:
            body = json.dumps({key: error.message}).encode()
        reply = _Reply(status, [("Content-Type", "application/json")], body)
        error_types = {
            "UNAUTHORIZED": "UnauthorizedException",
            "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
            "ACCESS_DENIED": "AccessDeniedException",
            "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
            "BAD_REQUEST_BODY": "BadRequestException",
            "BAD_REQUEST_PARAMETERS": "BadRequestException",
        }
        if error.response_type in error_types:
            reply.set_header("x-amzn-ErrorType", error_types[error.response_type])
        for target, source in ((custom.response_parameters if custom else None) or {}).items():
            if target.startswith("gatewayresponse.header."):
                value = self._mapped_value(source)
                if value is not None:
                    reply.set_header(target[len("gatewayresponse.header.") :], value)
        return reply


def _fill_path(template: str, mapped: dict[str, str], method_params: dict[str, str]) -> str:
    """Substitute ``{name}`` in an integration URI/path from mapped (or same-named method) parameters."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).rstrip("+")
        value = mapped.get(name, method_params.get(name))
        if value is None:
            return match.group(0)
        return urllib.parse.quote(value, safe="/" if match.group(1).endswith("+") or name == "proxy" else "")

    return re.sub(r"\{([A-Za-z0-9_.+-]+)\}", substitute, template)


def _schema_errors(api_id: str, model_name: str, schemas: dict[str, str], body: str) -> list[str]:
    """Validate a JSON body against a model (draft-04), resolving references to sibling models."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def load(text: str) -> Any:
        try:
            return json.loads(text or "{}")
        except ValueError:
            return {}

    registry: Registry = Registry()
    for name, text in schemas.items():
        resource = Resource.from_contents(load(text), default_specification=DRAFT4)
        registry = registry.with_resource(f"https://apigateway.amazonaws.com/restapis/{api_id}/models/{name}", resource)
    try:
        document = json.loads(body) if body.strip() else None
    except ValueError as exc:
        return [f"Invalid JSON: {exc}"]
    schema = load(schemas[model_name])
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    validator = validator_class(schema, registry=registry)
    return [error.message for error in validator.iter_errors(document)]


def _proxy_response(result: Any) -> _Reply | None:
    """Map a REST (v1 / payload 1.0) Lambda proxy result; None when it is malformed (→ 502)."""
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if not isinstance(result, dict) or not set(result) <= allowed or "statusCode" not in result:
        return None
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return None
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        return None
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        return None
    for name, value in single.items():
        if isinstance(value, dict | list):
            return None
        if name not in multi:
            headers.append((name, _scalar(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            return None
        headers.extend((name, _scalar(v)) for v in values)
    return _proxy_reply(status, headers, body, result.get("isBase64Encoded"))


def _proxy_reply(status: int, headers: list[tuple[str, str]], body: str | None, base64_encoded: Any) -> _Reply | None:
    """The reply of a Lambda proxy result (JSON unless it names a Content-Type); None for bad base64."""
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    payload = (body or "").encode("utf-8")
    if base64_encoded and body:
        try:
            payload = base64.b64decode(body)
        except ValueError:
            return None
    return _Reply(status, headers, payload)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
