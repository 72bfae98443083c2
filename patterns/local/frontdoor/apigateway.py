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
  MOCK, with Velocity request/response templates (:mod:`patterns.local.frontdoor.vtl`), integration
  responses, parameter mappings and gateway responses.
- HTTP APIs (v2): ``METHOD /path`` and ``$default`` routes, Lambda proxy payload 2.0 (and 1.0),
  simplified responses, Lambda REQUEST and JWT authorizers, AWS service integrations
  (``IntegrationSubtype``), HTTP_PROXY and CORS.
- Both: HTTP integrations within their TimeoutInMillis (REST: 504 ``Endpoint request timed out``;
  HTTP APIs: 503 ``Service Unavailable``; an unreachable backend: 502 / 500), integration URLs of
  APIs and function URLs deployed here served by this front door, throttling and usage plan quotas
  (:mod:`patterns.local.frontdoor.limits`) → 429.
- Lambda function URLs (:mod:`patterns.local.frontdoor.function_urls`): AuthType NONE / AWS_IAM.

URLs: ``http://127.0.0.1:PORT/<api_id>/<stage>/<path>`` (``$default`` stages: no stage segment), or
host-style ``http://<api_id>.execute-api.localhost:PORT/<stage>/<path>`` when a client sets Host;
function URLs: ``http://127.0.0.1:PORT/lambda-url/<url_id>/<path>`` or ``Host: <url_id>.lambda-url.localhost:PORT``.
"""

from __future__ import annotations

import contextlib
import http
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request

from ..models.apigateway import install
from . import domains
from .cloudfront import CloudFrontDoor, distribution_in_host
from .http import _HttpInvocation
from .limits import Limits
from .requests import (
    _LOG,
    InvokeFn,
    LambdaInvocationError,
    _json_reply,
    _payload_too_large,
    _Reply,
    _Request,
    match_path,
    rank_template,
)
from .rest import _RestInvocation
from .services import _IntegrationFailure, _ServiceDispatcher

__all__ = ["FrontDoor", "LambdaInvocationError", "install", "match_path", "rank_template"]


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

    ``clock`` is the time throttling and quotas are measured on (the local cloud passes its
    virtual clock, so ``advance()`` refills token buckets and starts new quota periods).
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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_id = account_id
        #: Epoch seconds on the cloud's clock: authorizer result TTLs and token expiry are judged on it.
        self.clock = clock
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
        #: Throttling buckets and usage plan quotas, on ``clock`` (the local cloud's clock; wall time by default).
        self.limits = Limits(clock)
        #: Access key id → secret access key: SigV4 requests (AppSync AWS_IAM) are verified with these.
        self.credentials: dict[str, str] = {}
        #: CloudFront distributions, on hosts of their own (``<id>.cloudfront.localhost``).
        self.cloudfront = CloudFrontDoor(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the threaded server; returns the base URL (``http://127.0.0.1:PORT``).

        Behind the guard (guard.py): only loopback Host names of this port (DNS rebinding), and with
        ``allowed_origins`` set, no foreign Origin/Referer the API does not allow. Connections that
        stop sending or idle are closed after ``read_timeout``.
        """
        from ..guard import BoundServer, Guard

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

    def resolve_integration_url(self, url: str) -> tuple[str, str | None]:
        """Where an HTTP integration's URL goes: an API or function URL deployed here is served by
        this front door (url, Host header); a function URL that no longer exists does not resolve,
        as its DNS name stops resolving on AWS; any other URL is called as it is."""
        from .function_urls import find_function_url
        from .requests import _BackendUnreachable, local_url

        if self._server is None or self._base_url is None:
            return url, None
        local = local_url(url, self._base_url)
        if local is None:
            return url, None
        target, host, kind, endpoint_id = local
        if kind == "lambda-url" and find_function_url(self, endpoint_id) is None:
            raise _BackendUnreachable(f"{url}: no function URL {endpoint_id} (the name does not resolve)")
        return target, host

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
        raw_headers = environ.get("frontdoor.raw_headers") or list(request.headers.items())
        distribution_id = distribution_in_host(host)  # before custom domains: <id>.cloudfront.localhost
        if distribution_id is not None:
            return self.cloudfront.handle(distribution_id, request, raw_headers)
        custom_domain = domains.dispatch(self, request, raw_headers, host)
        if custom_domain is not None:
            return custom_domain
        segments = request.path.split("/")[1:]
        if ".lambda-url." in host or segments[:1] == ["lambda-url"]:
            return self._function_url(request, environ, host, segments)
        if ".execute-api." in host:
            api_id = host.split(".", 1)[0]
            rest = segments
        else:
            api_id, rest = (segments[0] if segments else ""), segments[1:]
        if ".appsync-api." in host or rest == ["graphql"]:  # AppSync: <api id>/graphql or its host
            from .appsync import find_api, serve

            graphql_id = host.split(".", 1)[0] if ".appsync-api." in host else api_id
            with self._lock:
                graphql_api = find_api(self.account_id, self.region, graphql_id)
            if graphql_api is not None:
                return serve(self, graphql_api, request)
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

    def _function_url(self, request: Request, environ: dict[str, Any], host: str, segments: list[str]) -> _Reply:
        from .function_urls import _FunctionUrlInvocation, find_function_url

        if ".lambda-url." in host:
            url_id, rest = host.split(".", 1)[0], segments
        else:
            url_id, rest = (segments[1] if len(segments) > 1 else ""), segments[2:]
        function = find_function_url(self, url_id)
        if function is None:
            return _json_reply(404, {"Message": f"No function URL {url_id!r} is deployed in the local cloud"})
        path = "/" + "/".join(rest)
        query_string = request.query_string.decode("latin-1")
        raw_headers = environ.get("frontdoor.raw_headers") or list(request.headers.items())
        built = _Request(
            method=request.method.upper(),
            path=path,
            raw_path=path,
            raw_query=query_string,
            query=urllib.parse.parse_qsl(query_string, keep_blank_values=True),
            headers=[(k, v) for k, v in raw_headers],
            body=request.get_data(),
            source_ip=request.remote_addr or "127.0.0.1",
            host=host,
        )
        return _FunctionUrlInvocation(self, function, url_id, built).run()

    def function_url_for(self, function_url: str) -> str:
        """The local URL of a function URL (``https://<id>.lambda-url.<region>.on.aws/``)."""
        url_id = function_url.split("//", 1)[-1].split(".", 1)[0]
        return f"{self.base_url}/lambda-url/{url_id}"

    # -- authorizer cache ------------------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], ttl: int, compute: Callable[[], tuple[bool, Any]]) -> Any:
        """``compute()`` gives (cacheable, value); a cacheable value is reused for ``ttl`` seconds of the
        cloud's clock. API Gateway caches the policy an authorizer returned, never a failed invocation."""
        if ttl <= 0:
            return compute()[1]
        now = self.clock()
        with self._auth_cache_lock:
            hit = self._auth_cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        cacheable, value = compute()
        if cacheable:
            with self._auth_cache_lock:
                self._auth_cache[key] = (now + ttl, value)
        return value
