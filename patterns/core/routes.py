"""A per-route table on one REST API: each route (path + methods) goes to its own backend.

Backends are a Lambda function (proxy integration), an HTTP service (HTTP_PROXY, e.g. a function
URL or another team's API, with its own integration timeout) or an SQS queue (an AWS service
integration: API Gateway sends the message itself). GatewayRouter and Strangler are both thin
wiring over :func:`add_routes`; a route table is plain data, so moving a route from one backend to
another is a one-line change of the user's props.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

#: The methods a route may list (``ANY`` matches every method).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
#: API Gateway's integration timeout range for REST APIs (milliseconds).
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS = 50, 29_000
_SEGMENT = re.compile(r"^(?:[A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\}|\{proxy\+\})$")
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}")
_SQS_REQUEST_TEMPLATE = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
_SQS_RESPONSE_TEMPLATE = '{"messageId": "$input.path(\'$.SendMessageResponse.SendMessageResult.MessageId\')"}'


@dataclass(frozen=True, kw_only=True)
class HttpBackend:
    """An HTTP service behind the gateway (HTTP_PROXY: method, headers, query and body pass through).

    :param url: the service's base URL, e.g. a function URL (``https://<id>.lambda-url.<region>.on.aws/``)
        or another API's stage URL; may be a token.
    :param path: the path on the service. Default: the route's own path (a client's request reaches
        the service unchanged); ``{name}`` / ``{proxy+}`` parameters are filled from the request.
    :param timeout: the integration timeout; a slower answer is a 504 from the gateway. Default: 29 seconds.
    """

    url: str
    path: str | None = None
    timeout: Duration | None = None


@dataclass(frozen=True, kw_only=True)
class QueueBackend:
    """An SQS queue: the gateway sends the request body as a message and answers 202 with its id."""

    queue: sqs.IQueue


Backend = lambda_.IFunction | HttpBackend | QueueBackend


@dataclass(frozen=True, kw_only=True)
class Route:
    """One row of a route table.

    :param path: the API path, e.g. ``/v1/orders/{id}`` or ``/legacy/{proxy+}``.
    :param backend: a Lambda function, an :class:`HttpBackend` or a :class:`QueueBackend`.
    :param methods: the HTTP methods of the route. Default: ``("GET",)``.
    :param throttle: ``(rate per second, burst)`` for this route's methods on the stage. Default: the
        stage's throttle.
    :param required_parameters: request parameters the gateway requires before calling the backend,
        e.g. ``("querystring.id", "header.x-request-id")`` → 400 when missing. Default: none.
    """

    path: str
    backend: Backend
    methods: tuple[str, ...] = ("GET",)
    throttle: tuple[float, int] | None = None
    required_parameters: tuple[str, ...] = field(default_factory=tuple)

    @property
    def keys(self) -> list[str]:
        """``METHOD /path`` for each method, how routes are named in errors and in ``methods``."""
        return [f"{method} {self.path}" for method in self.methods]


def check_routes(routes: Sequence[Route], *, prop: str = "routes") -> None:
    """Raise ValueError for an empty table, a malformed path or method, a duplicate route or a bad limit."""
    if not routes:
        raise ValueError(f"{prop} must name at least one route")
    seen: set[str] = set()
    for route in routes:
        segments = route.path.split("/")[1:]
        if not route.path.startswith("/") or route.path == "/" or not all(_SEGMENT.match(s) for s in segments):
            raise ValueError(
                f"{prop}: path {route.path!r} must start with '/' and have segments of letters, digits, '._~-', "
                "'{name}' or a final '{proxy+}', like '/v1/orders/{id}'"
            )
        if "{proxy+}" in segments[:-1]:
            raise ValueError(f"{prop}: '{{proxy+}}' must be the last segment of {route.path!r}")
        if not route.methods:
            raise ValueError(f"{prop}: route {route.path!r} must list at least one method")
        for method in route.methods:
            if method not in METHODS:
                raise ValueError(f"{prop}: method {method!r} of {route.path!r} must be one of {', '.join(METHODS)}")
        for key in route.keys:
            if key in seen:
                raise ValueError(f"{prop}: route {key!r} is listed twice")
            seen.add(key)
        if "ANY" in route.methods and len(route.methods) > 1:
            raise ValueError(f"{prop}: route {route.path!r} lists ANY with other methods; ANY already covers them")
        if route.throttle is not None:
            rate, burst = route.throttle
            if rate < 0 or burst < 0:
                raise ValueError(
                    f"{prop}: throttle of {route.path!r} must be (rate >= 0, burst >= 0) (given {route.throttle})"
                )
        for parameter in route.required_parameters:
            location, _, name = parameter.partition(".")
            if location not in ("querystring", "header") or not name:
                raise ValueError(
                    f"{prop}: required parameter {parameter!r} of {route.path!r} must be 'querystring.<name>' "
                    "or 'header.<name>'"
                )
        backend = route.backend
        if isinstance(backend, HttpBackend) and backend.timeout is not None:
            millis = backend.timeout.to_milliseconds()
            if not Token.is_unresolved(millis) and not MIN_TIMEOUT_MS <= millis <= MAX_TIMEOUT_MS:
                raise ValueError(
                    f"{prop}: timeout of {route.path!r} must be between 50 ms and 29 s, API Gateway's "
                    f"integration limits (given {millis} ms)"
                )
        if isinstance(backend, QueueBackend) and any(m in ("GET", "HEAD", "OPTIONS") for m in route.methods):
            raise ValueError(f"{prop}: route {route.path!r} sends a message to a queue: use POST or PUT, not GET")


def method_throttles(routes: Sequence[Route]) -> dict[str, apigw.MethodDeploymentOptions]:
    """Stage method settings (``/path/METHOD`` → throttle) for every route that sets its own throttle."""
    settings: dict[str, apigw.MethodDeploymentOptions] = {}
    for route in routes:
        if route.throttle is None:
            continue
        rate, burst = route.throttle
        for method in route.methods:
            method_key = "*" if method == "ANY" else method
            settings[f"{route.path}/{method_key}"] = apigw.MethodDeploymentOptions(
                throttling_rate_limit=rate, throttling_burst_limit=burst
            )
    return settings


@dataclass
class RouteTable:
    """What :func:`add_routes` created: methods by ``METHOD /path`` and the role of queue routes."""

    methods: dict[str, apigw.Method]
    queue_role: iam.Role | None


def add_routes(
    scope: Construct,
    api: apigw.RestApi,
    routes: Sequence[Route],
    *,
    validator: apigw.IRequestValidator | None = None,
    method_options: Mapping[str, object] | None = None,
) -> RouteTable:
    """Add every route's resources and methods to ``api``, each with its backend's integration.

    ``method_options`` are extra keyword arguments of every ``add_method`` (e.g. ``api_key_required``).
    Queue backends share one role allowed ``sqs:SendMessage`` on exactly those queues.
    """
    methods: dict[str, apigw.Method] = {}
    queue_role: iam.Role | None = None
    for route in routes:
        resource = api.root.resource_for_path(route.path)
        parameters = {f"method.request.path.{name}": True for name in _PATH_PARAMETER.findall(route.path)}
        parameters |= {f"method.request.{p}": True for p in route.required_parameters}
        backend = route.backend
        extra: dict[str, object] = {}
        if isinstance(backend, QueueBackend):
            if queue_role is None:
                queue_role = iam.Role(
                    scope,
                    "QueueRouteRole",
                    assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                    description="API Gateway sends route bodies to the route table's queues: SendMessage only",
                )
            integration: apigw.Integration = _queue_integration(backend.queue, queue_role)
            extra["method_responses"] = [
                apigw.MethodResponse(status_code="202"),
                apigw.MethodResponse(status_code="500"),
            ]
        elif isinstance(backend, HttpBackend):
            integration = _http_integration(route, backend)
        else:
            integration = apigw.LambdaIntegration(backend, allow_test_invoke=False)
        for method in route.methods:
            methods[f"{method} {route.path}"] = resource.add_method(
                method,
                integration,
                request_parameters=parameters or None,
                request_validator=validator if parameters and validator is not None else None,
                **{**dict(method_options or {}), **extra},  # type: ignore[arg-type]
            )
    return RouteTable(methods, queue_role)


def _http_integration(route: Route, backend: HttpBackend) -> apigw.HttpIntegration:
    """HTTP_PROXY to ``url + path``, the route's path parameters mapped onto the backend path."""
    path = backend.path if backend.path is not None else route.path
    url = backend.url.rstrip("/") if not Token.is_unresolved(backend.url) else backend.url
    target = path.replace("{proxy+}", "{proxy}")
    if Token.is_unresolved(backend.url):
        from aws_cdk import Fn

        # A function URL or stage URL token ends with "/": join without doubling it.
        target_url = Fn.join("", [backend.url, target.lstrip("/")])
    else:
        target_url = url + target
    names = _PATH_PARAMETER.findall(path)
    return apigw.HttpIntegration(
        target_url,
        http_method="ANY",
        proxy=True,
        options=apigw.IntegrationOptions(
            timeout=backend.timeout or Duration.seconds(29),
            request_parameters={f"integration.request.path.{n}": f"method.request.path.{n}" for n in names} or None,
        ),
    )


def _queue_integration(queue: sqs.IQueue, role: iam.Role) -> apigw.AwsIntegration:
    """SendMessage with the request body; 202 with the message id, 500 without service details."""
    role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]))
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
    return apigw.AwsIntegration(
        service="sqs",
        path=f"{queue.env.account}/{queue.queue_name}",
        integration_http_method="POST",
        options=apigw.IntegrationOptions(
            credentials_role=role,
            passthrough_behavior=apigw.PassthroughBehavior.NEVER,
            request_parameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
            request_templates={"application/json": _SQS_REQUEST_TEMPLATE},
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="202",
                    selection_pattern=r"2\d{2}",
                    response_templates={"application/json": _SQS_RESPONSE_TEMPLATE},
                ),
                apigw.IntegrationResponse(
                    status_code="500",
                    response_templates={"application/json": '{"message": "the queue refused the message"}'},
                ),
            ],
        ),
    )


def not_found_response(api: apigw.RestApi) -> apigw.GatewayResponse:
    """An unknown route answers 404 ``Not Found`` from the gateway (REST APIs answer 403
    ``Missing Authentication Token`` by default), and never reaches a backend."""
    return api.add_gateway_response(
        "UnknownRoute",
        type=apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        status_code="404",
        templates={"application/json": '{"message": "Not Found"}'},
    )
