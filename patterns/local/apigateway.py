"""The local cloud's HTTP front door: deployed API Gateway APIs served on 127.0.0.1.

moto stores API Gateway definitions but serves none of them over HTTP (its only "execution"
mocks ``requests`` calls inside ``mock_aws`` and ignores Lambda proxies, templates, authorizers and
validators). The front door is a threaded werkzeug server that, for every request, reads the API
definition live from moto's apigateway/apigatewayv2 backends (so a redeploy is picked up at once)
and does what API Gateway does:

- REST APIs (v1): resource matching with ``{param}``/``{proxy+}`` and ``ANY``; Lambda authorizers
  (TOKEN/REQUEST, IAM-policy evaluation, result cache), Cognito user pool authorizers, AWS_IAM
  (accepted and recorded), API keys with usage plans, request validators (required parameters,
  JSON-schema body against the method's models); integrations AWS_PROXY (Lambda proxy events v1),
  AWS (Lambda non-proxy and AWS service actions/paths against moto: SQS, SNS, Kinesis, DynamoDB,
  EventBridge, Step Functions, ... through moto's own request dispatcher), HTTP, HTTP_PROXY and
  MOCK, with Velocity request/response templates (:mod:`patterns.local.vtl`), integration
  responses, parameter mappings and gateway responses.
- HTTP APIs (v2): ``METHOD /path`` and ``$default`` routes, Lambda proxy payload 2.0 (and 1.0),
  simplified responses, Lambda REQUEST and JWT authorizers, AWS service integrations
  (``IntegrationSubtype``), HTTP_PROXY and CORS.

URLs: ``http://127.0.0.1:PORT/<api_id>/<stage>/<path>`` (``$default`` stages: no stage segment), or
host-style ``http://<api_id>.execute-api.localhost:PORT/<stage>/<path>`` when a client sets Host.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http
import io
import json
import logging
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt  # PyJWT: a declared dependency of the local extra, imported eagerly so its absence is loud
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request

from . import vtl
from .apigateway_models import install

__all__ = ["FrontDoor", "LambdaInvocationError", "install", "match_path", "rank_template"]

_LOG = logging.getLogger(__name__)

InvokeFn = Callable[[str, dict[str, Any]], Any]

_LAMBDA_PATH_URI = re.compile(r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$")
_SERVICE_URI = re.compile(
    r"^arn:[^:]+:apigateway:(?P<region>[^:]+):(?P<service>[^:]+):(?P<kind>path|action)/(?P<rest>.*)$"
)
_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.(?P<region>[^.]+)\.amazonaws\.com/(?P<pool>[^/]+)$")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
#: botocore service names for API Gateway service (endpoint) prefixes that differ from them.
_BOTOCORE_NAMES = {
    "states": "stepfunctions",
    "monitoring": "cloudwatch",
    "email": "ses",
    "streams.dynamodb": "dynamodbstreams",
}


class LambdaInvocationError(Exception):
    """A function returned an error (handled or not); ``payload`` is its error document."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload if isinstance(payload, dict) else {"errorMessage": str(payload)}
        super().__init__(self.payload.get("errorMessage") or "Lambda function error")


class _GatewayError(Exception):
    """A gateway-generated response (API Gateway's "gateway responses")."""

    def __init__(self, response_type: str, status: int, message: str | None, validation: str | None = None) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.status = status
        self.message = message
        self.validation = validation


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))


@dataclass
class _Request:
    """One HTTP request as the API sees it (path relative to the stage)."""

    method: str
    path: str
    raw_path: str
    raw_query: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_id: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(12)).decode()[:16])
    epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def header(self, name: str) -> str | None:
        found = None
        for key, value in self.headers:
            if key.lower() == name.lower():
                found = value
        return found

    def header_map(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, value in self.headers:
            result[key] = value
        return result

    def multi_headers(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for key, value in self.headers:
            result.setdefault(key, []).append(value)
        return result

    def query_map(self) -> dict[str, str]:
        return dict(self.query)

    def multi_query(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for key, value in self.query:
            result.setdefault(key, []).append(value)
        return result

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "application/json").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def request_time(self) -> str:
        moment = datetime.datetime.fromtimestamp(self.epoch_ms / 1000, tz=datetime.UTC)
        return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")


# ---------------------------------------------------------------------------------------------
# Path matching shared by REST resources and HTTP API routes
# ---------------------------------------------------------------------------------------------


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment != ""]


def match_path(template: str, path: str) -> dict[str, str] | None:
    """Match ``/items/{id}`` or ``/files/{proxy+}`` against a request path; return path parameters."""
    parts, actual = _segments(template), _segments(path)
    params: dict[str, str] = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if index != len(parts) - 1 or index >= len(actual):
                return None
            params[part[1:-2]] = "/".join(actual[index:])
            return params
        if index >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = actual[index]
        elif part != actual[index]:
            return None
    return params if len(parts) == len(actual) else None


def rank_template(template: str) -> tuple[int, ...]:
    """Sort key, most specific first: literal segments beat ``{param}``, which beats ``{proxy+}``."""
    ranks = []
    for part in _segments(template):
        if part.startswith("{") and part.endswith("+}"):
            ranks.append(2)
        elif part.startswith("{"):
            ranks.append(1)
        else:
            ranks.append(0)
    # Longer matches of equal prefix are more specific than a greedy parent.
    return (*ranks, -len(ranks))


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


def _verify_jwt(token: str, *, issuers: list[str], audience: list[str] | None, account_id: str) -> dict[str, Any]:
    """Decode a bearer JWT and check issuer, audience and expiry.

    Tokens issued by a Cognito user pool known to moto are signature-checked with moto's signing
    key (the key moto's ``initiate_auth`` uses). Other issuers cannot be reached offline, so for
    them only the claims are checked, not the signature.
    """
    global _MOTO_JWKS
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    unverified = jwt.decode(token, options={"verify_signature": False})
    issuer = str(unverified.get("iss", ""))
    if issuer.rstrip("/") not in [i.rstrip("/") for i in issuers]:
        raise ValueError(f"issuer {issuer!r} is not accepted")
    cognito = _COGNITO_ISSUER.match(issuer)
    options = {"verify_aud": False, "require": ["exp"] if cognito else []}
    if cognito and _pool_exists(account_id, cognito.group("region"), cognito.group("pool")):
        if _MOTO_JWKS is None:
            from moto.utilities.utils import load_resource

            _MOTO_JWKS = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-public.json")["keys"][0])
        claims = jwt.decode(token, key=_MOTO_JWKS.key, algorithms=["RS256"], options=options)
    elif cognito:
        raise ValueError(f"user pool {cognito.group('pool')} does not exist")
    else:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": True, "verify_aud": False})
    if audience:
        token_audience = claims.get("aud", claims.get("client_id"))
        token_audience = token_audience if isinstance(token_audience, list) else [token_audience]
        if not set(map(str, token_audience)) & set(audience):
            raise ValueError("audience not accepted")
    return claims


def _pool_exists(account_id: str, region: str, pool_id: str) -> bool:
    from moto.cognitoidp.models import cognitoidp_backends

    return pool_id in cognitoidp_backends[account_id][region].user_pools


# ---------------------------------------------------------------------------------------------
# AWS service calls (API Gateway "AWS" integrations) through moto's own request dispatcher
# ---------------------------------------------------------------------------------------------


class _ServiceDispatcher:
    """Sends the integration request to moto like API Gateway sends it to the AWS service.

    The mapping template's output is the request body, exactly as on AWS, and moto's own HTTP
    dispatcher (the one its server mode uses) parses it, so template mistakes fail here too. Query
    protocol answers (XML) are converted to the JSON API Gateway receives from those services.
    """

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}

    def _wsgi(self) -> Any:
        with self._lock:
            if self._app is None:
                from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

                self._app = DomainDispatcherApplication(create_backend_app)
            return self._app

    def metadata(self, service: str) -> dict[str, Any]:
        name = _BOTOCORE_NAMES.get(service, service)
        if name not in self._models:
            import botocore.session

            try:
                self._models[name] = botocore.session.get_session().get_service_model(name).metadata
            except Exception as exc:
                raise _IntegrationFailure(f"unknown AWS service {service!r} in integration URI") from exc
        return self._models[name]

    def call(
        self,
        *,
        service: str,
        region: str,
        account_id: str,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        signing = service.split(".")[-1]
        all_headers = {
            "Host": f"{service}.{region}.amazonaws.com",
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential=AKIALOCALAPIGATEWAY/20260101/{region}/{signing}/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
            "x-moto-account-id": account_id,
            **headers,
        }
        builder = EnvironBuilder(
            method=method,
            path=path,
            query_string=urllib.parse.urlencode(query),
            headers=all_headers,
            data=body,
            base_url=f"https://{service}.{region}.amazonaws.com",
        )
        try:
            app_iter, status, response_headers = run_wsgi_app(self._wsgi(), builder.get_environ())
            try:
                payload = b"".join(app_iter)
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
        except Exception as exc:  # moto raises for requests it cannot parse (e.g. a wrong content type)
            _LOG.warning("AWS integration call to %s failed inside moto: %s", service, exc)
            error = {"__type": "InternalFailure", "message": f"{type(exc).__name__}: {exc}"}
            return 500, {"Content-Type": "application/json"}, json.dumps(error).encode()
        finally:
            builder.close()
        return int(status.split()[0]), dict(response_headers), payload


def _xml_to_json(payload: bytes) -> bytes:
    """Query-protocol XML → the JSON shape these services return for ``Accept: application/json``."""
    import xmltodict  # moto dependency

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items() if not k.startswith("@")}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return json.dumps(clean(xmltodict.parse(payload))).encode()


class _IntegrationFailure(Exception):
    """The integration could not be called (configuration or backend error) → 500."""


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class _RequestHandler(WSGIRequestHandler):
    """Keeps the client's header spelling (REST proxy events preserve it) and logs quietly."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ["frontdoor.raw_headers"] = [(k, v) for k, v in self.headers.items()]
        return environ

    def log(self, type: str, message: str, *args: Any) -> None:
        _LOG.debug("%s %s", type, message % args)


class FrontDoor:
    """Serves the API Gateway APIs deployed into moto over real HTTP on 127.0.0.1.

    ``invoke(function_arn, event)`` runs a Lambda synchronously and returns its result, raising on a
    function error; by default it calls moto's Lambda backend (which the local cloud's runtime hook
    makes run the real handler). ``backend_lock`` (optional) is held around every moto backend
    access, for a local cloud that serializes moto across threads.
    """

    def __init__(
        self,
        *,
        invoke: InvokeFn | None = None,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        backend_lock: contextlib.AbstractContextManager[Any] | None = None,
        allowed_origins: Iterable[str] | None = None,
        read_timeout: float = 30.0,
    ) -> None:
        self.account_id = account_id
        #: None: browsers' origins are not checked (the API's CORS answers, as on AWS). A tuple (a
        #: server's allowlist): a request from a foreign origin is refused (403) unless that origin is
        #: allowlisted or the deployed API's own CORS configuration allows it.
        self.allowed_origins = None if allowed_origins is None else tuple(allowed_origins)
        self.read_timeout = read_timeout
        self.region = region
        self._invoke = invoke
        self._lock: contextlib.AbstractContextManager[Any] = backend_lock or contextlib.nullcontext()
        self._server: Any = None
        self._base_url: str | None = None
        self._dispatcher = _ServiceDispatcher()
        self._auth_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._auth_cache_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the threaded server; returns the base URL (``http://127.0.0.1:PORT``).

        Behind the guard (guard.py): only loopback Host names of this port (DNS rebinding), and with
        ``allowed_origins`` set, no foreign Origin/Referer the API does not allow. Connections that
        stop sending or idle are closed after ``read_timeout``.
        """
        from .guard import BoundServer, Guard

        if self._server is not None:
            raise RuntimeError("FrontDoor is already started")
        guard = Guard(self.wsgi_app, port=lambda: server.port, allowed_origins=self.allowed_origins or ())
        if self.allowed_origins is None:
            guard.origin_allowed = lambda origin: True  # type: ignore[method-assign]
        else:
            base_check = guard.origin_allowed
            guard.origin_allowed = lambda origin: base_check(origin) or self._api_allows_origin(origin)  # type: ignore[method-assign]
        server = BoundServer(
            guard,
            host,
            port,
            request_handler=_RequestHandler,
            read_timeout=self.read_timeout,
            name="apigateway-front-door",
        )
        server.start()
        self._server = server
        self._base_url = f"http://{host}:{server.port}"
        return self._base_url

    def stop(self) -> None:
        """Stop the server and wait for its thread; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def _api_allows_origin(self, origin: str) -> bool:
        """True if some deployed API's CORS configuration names ``origin`` (or ``*``): an HTTP API's
        ``CorsConfiguration``, or the origins a REST API's OPTIONS integrations answer with."""
        from moto.apigateway.models import apigateway_backends
        from moto.apigatewayv2.models import apigatewayv2_backends

        with self._lock:
            for api in list(apigatewayv2_backends[self.account_id][self.region].apis.values()):
                allowed = (api.cors_configuration or {}).get("allowOrigins") or []
                if "*" in allowed or origin in [o.rstrip("/").lower() for o in allowed]:
                    return True
            for rest_api in list(apigateway_backends[self.account_id][self.region].apis.values()):
                for resource in list(rest_api.resources.values()):
                    method = (resource.resource_methods or {}).get("OPTIONS")
                    integration = getattr(method, "method_integration", None)
                    for response in (getattr(integration, "integration_responses", None) or {}).values():
                        texts = [
                            str(v)
                            for k, v in (response.response_parameters or {}).items()
                            if k.lower().endswith("access-control-allow-origin")
                        ]
                        texts += [str(t) for t in (response.response_templates or {}).values()]
                        if any("'*'" in t or origin in t.lower() for t in texts):
                            return True
        return False

    def __enter__(self) -> FrontDoor:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FrontDoor is not started")
        return self._base_url

    def url_for(self, api_id: str, stage: str) -> str:
        """The base URL under which ``/<resource path>`` of that API stage is served."""
        if stage == "$default":
            return f"{self.base_url}/{api_id}"
        return f"{self.base_url}/{api_id}/{stage}"

    def clear_authorizer_cache(self) -> None:
        """Forget cached authorizer results (API Gateway keeps them for the authorizer's TTL)."""
        with self._auth_cache_lock:
            self._auth_cache.clear()

    # -- Lambda ----------------------------------------------------------------------------------

    def invoke(self, function_arn: str, event: dict[str, Any]) -> Any:
        """Run a function synchronously; raise LambdaInvocationError on a function error."""
        if self._invoke is None:
            return self._moto_invoke(function_arn, event)
        try:
            return self._invoke(function_arn, event)
        except (LambdaInvocationError, _IntegrationFailure):
            raise
        except Exception as exc:
            # A function error carries the Lambda error document (the local cloud's FunctionError has
            # it as ``error``); anything else means the function could not be invoked at all.
            document = getattr(exc, "error", None) or getattr(exc, "payload", None)
            if isinstance(document, dict) and "errorMessage" in document:
                raise LambdaInvocationError(document) from exc
            raise _IntegrationFailure(f"invoking {function_arn} failed: {type(exc).__name__}: {exc}") from exc

    def _moto_invoke(self, function_arn: str, event: dict[str, Any]) -> Any:
        from moto.awslambda.models import lambda_backends

        parts = function_arn.split(":")
        if len(parts) < 7:
            raise _IntegrationFailure(f"not a Lambda function ARN: {function_arn}")
        region, account, name = parts[3], parts[4], parts[6]
        qualifier = parts[7] if len(parts) > 7 else None
        response_headers: dict[str, str] = {}
        try:
            with self._lock:
                backend = lambda_backends[account][region]
                payload = backend.invoke(name, qualifier, json.dumps(event), {}, response_headers)
        except Exception as exc:  # unknown function, throttled, ...: the integration cannot run
            raise _IntegrationFailure(f"invoking {function_arn} failed: {type(exc).__name__}: {exc}") from exc
        text = payload.decode("utf-8") if isinstance(payload, bytes) else (payload or "")
        try:
            result = json.loads(text) if text else None
        except ValueError:
            result = text
        if "x-amz-function-error" in response_headers:
            raise LambdaInvocationError(result)
        return result

    # -- WSGI ------------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application (also usable in-process, e.g. with werkzeug's test client)."""
        request = Request(environ)
        try:
            too_long = _payload_too_large(environ)
            reply = too_long if too_long is not None else self._dispatch(request, environ)
        except Exception:
            _LOG.exception("front door failed on %s %s", request.method, request.path)
            reply = _Reply(500, [("Content-Type", "application/json")], b'{"message": "Internal server error"}')
        try:
            reason = http.HTTPStatus(reply.status).phrase
        except ValueError:
            reason = ""
        headers = [(k, v) for k, v in reply.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(reply.body))))
        start_response(f"{reply.status} {reason}".strip(), headers)
        return [reply.body]

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> _Reply:
        host = request.host or ""
        segments = request.path.split("/")[1:]
        if ".execute-api." in host:
            api_id = host.split(".", 1)[0]
            rest = segments
        else:
            api_id, rest = (segments[0] if segments else ""), segments[1:]
        raw_headers = environ.get("frontdoor.raw_headers") or list(request.headers.items())
        from moto.apigateway.models import apigateway_backends
        from moto.apigatewayv2.models import apigatewayv2_backends

        with self._lock:
            rest_api = apigateway_backends[self.account_id][self.region].apis.get(api_id)
            http_api = None if rest_api else apigatewayv2_backends[self.account_id][self.region].apis.get(api_id)

        def build(stage_path: list[str], raw_prefix: str) -> _Request:
            path = "/" + "/".join(stage_path)
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/") or "/"
            query_string = request.query_string.decode("latin-1")
            return _Request(
                method=request.method.upper(),
                path=path,
                raw_path=raw_prefix + path if raw_prefix else path,
                raw_query=query_string,
                query=urllib.parse.parse_qsl(query_string, keep_blank_values=True),
                headers=[(k, v) for k, v in raw_headers],
                body=request.get_data(),
                source_ip=request.remote_addr or "127.0.0.1",
                host=host,
            )

        if rest_api is not None:
            stage_name = rest[0] if rest else ""
            with self._lock:
                stage = rest_api.stages.get(stage_name)
            if stage is None:
                return _json_reply(403, {"message": "Forbidden"})
            return _RestInvocation(self, rest_api, stage, build(rest[1:], "")).run()
        if http_api is not None:
            with self._lock:
                stages = dict(http_api.stages)
            if rest and rest[0] in stages and rest[0] != "$default":
                return _HttpInvocation(self, http_api, stages[rest[0]], build(rest[1:], "/" + rest[0])).run()
            if "$default" in stages:
                return _HttpInvocation(self, http_api, stages["$default"], build(rest, "")).run()
            return _json_reply(404, {"message": "Not Found"})
        return _json_reply(404, {"message": f"No API with id {api_id!r} is deployed in the local cloud"})

    # -- authorizer cache ------------------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], ttl: int, compute: Callable[[], Any]) -> Any:
        if ttl <= 0:
            return compute()
        now = time.monotonic()
        with self._auth_cache_lock:
            hit = self._auth_cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        value = compute()
        with self._auth_cache_lock:
            self._auth_cache[key] = (now + ttl, value)
        return value


#: API Gateway's largest request payload (REST and HTTP APIs): 10 MB.
MAX_PAYLOAD = 10 * 1024 * 1024


def _payload_too_large(environ: dict[str, Any]) -> _Reply | None:
    """API Gateway's 413 for a payload over 10 MB, before anything (the function) sees it.

    A declared Content-Length is judged without reading the body; a chunked body is read up to the
    limit and kept for the request."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        declared = -1
    if declared > MAX_PAYLOAD:
        return _json_reply(413, {"message": "Request Too Long"})
    if declared < 0 and "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        body = environ["wsgi.input"].read(MAX_PAYLOAD + 1)
        if len(body) > MAX_PAYLOAD:
            return _json_reply(413, {"message": "Request Too Long"})
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
    return None


def _json_reply(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> _Reply:
    return _Reply(status, [("Content-Type", "application/json"), *headers], json.dumps(document).encode())


def _lambda_arn(uri: str | None, stage_variables: dict[str, str]) -> str | None:
    """The function ARN of a Lambda integration URI (apigateway path form or a plain ARN)."""
    if not uri:
        return None
    uri = _STAGE_VARIABLE.sub(lambda m: stage_variables.get(m.group(1), ""), uri)
    match = _LAMBDA_PATH_URI.match(uri)
    if match:
        return match.group("arn")
    if uri.startswith("arn:") and ":lambda:" in uri and ":function:" in uri:
        return uri
    return None


def _decode_body(request: _Request, binary: bool) -> tuple[str | None, bool]:
    """The event's body: base64 only for a binary media type; text otherwise, as API Gateway
    passes it (bytes that are not UTF-8 become U+FFFD, the body is never base64 for a text type)."""
    if not request.body:
        return None, False
    if binary:
        return base64.b64encode(request.body).decode("ascii"), True
    return request.body.decode("utf-8", errors="replace"), False


def _media_matches(media_type: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.replace("~1", "/").lower()
        if pattern == media_type or pattern == "*/*":
            return True
        if pattern.endswith("/*") and media_type.startswith(pattern[:-1]):
            return True
    return False


def _http_call(
    method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, dict[str, str], bytes]:
    """Call an HTTP integration endpoint (no proxies; errors become 5xx like API Gateway's)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    outgoing = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with opener.open(outgoing, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()
    except (urllib.error.URLError, OSError) as error:
        raise _IntegrationFailure(f"HTTP integration {url} failed: {error}") from error


# ---------------------------------------------------------------------------------------------
# REST APIs
# ---------------------------------------------------------------------------------------------


class _Invocation:
    """One request against an API stage: what REST and HTTP APIs both start from."""

    def __init__(self, door: FrontDoor, api: Any, stage: Any, request: _Request, stage_variables: Any) -> None:
        self.door = door
        self.api = api
        self.stage = stage
        self.request = request
        self.stage_variables: dict[str, str] = dict(stage_variables or {})
        self.path_params: dict[str, str] = {}


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

    # -- pipeline --------------------------------------------------------------------------------

    def run(self) -> _Reply:
        try:
            with self.door._lock:
                self._match()
            self._authorize()
            self._check_api_key()
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

        def call() -> Any:
            started = time.monotonic()
            try:
                result = self.door.invoke(function_arn, event)
            except LambdaInvocationError as error:
                return ("error", error.payload.get("errorMessage"), 0)
            except _IntegrationFailure:
                return ("error", None, 0)
            return ("ok", result, int((time.monotonic() - started) * 1000))

        ttl = int(authorizer.authorizer_result_ttl or 0) if cache_key is not None else 0
        key = (self.api.id, authorizer.id, *(cache_key or ()))
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
            claims = _verify_jwt(token, issuers=issuers, audience=None, account_id=self.door.account_id)
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
            allowed = key is not None and any(
                key.id in backend.usage_plan_keys.get(plan.id, {})
                and any(s.get("apiId") == self.api.id and s.get("stage") == self.stage.name for s in plan.api_stages)
                for plan in backend.usage_plans.values()
            )
        if not allowed:
            raise _GatewayError("INVALID_API_KEY", 403, "Forbidden")
        self.identity["apiKey"] = value
        self.identity["apiKeyId"] = key.id if key else None

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
            "path": f"/{self.stage.name}{request.path if request.path != '/' else '/'}",
            "accountId": self.door.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage.name,
            "domainPrefix": self.api.id,
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
            "path": request.path,
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
                "path": f"/{self.stage.name}{request.path}",
                "apiId": self.api.id,
                "accountId": self.door.account_id,
                "domainName": request.host,
                "domainPrefix": self.api.id,
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
            response = _http_call(method if method != "ANY" else self.request.method, url, headers, body, 29)
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
            self.request.method if method == "ANY" else method, url, forwarded, self.request.body, 29
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
            "domainPrefix": self.api.api_id,
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

        def call() -> Any:
            try:
                return ("ok", self.door.invoke(function_arn, event))
            except (LambdaInvocationError, _IntegrationFailure):
                return ("error", None)

        ttl = int(authorizer.auth_result_ttl or 0) if sources else 0
        outcome, result = self.door._cached((self.api.api_id, authorizer.id, *values), ttl, call)
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
        except _IntegrationFailure as failure:
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
            (integration.timeout_in_millis or 30000) / 1000,
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
