"""What every API Gateway invocation shares: the request and reply, path matching, payload limits, body
decoding, HTTP calls, and the base of the REST and HTTP API invocations."""

from __future__ import annotations

import base64
import datetime
import io
import json
import logging
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .apigateway import FrontDoor

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
    #: the custom domain's base path this request came through ("" = the empty one); None: execute-api URL
    base_path: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_id: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(12)).decode()[:16])
    epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def domain_prefix(self, api_id: str) -> str:
        """``$context.domainPrefix``: the API id, or a custom domain's first label (``api`` of api.example.com)."""
        return self.host.split(".", 1)[0] if self.base_path is not None else api_id

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


#: Host names of AWS endpoints that a deployed API or function serves locally: an HTTP integration
#: whose URI names one (``GetAtt Url.FunctionUrl``, ``RestApi.url``) reaches the front door itself.
_LOCAL_HOSTS = re.compile(
    r"^(?P<id>[A-Za-z0-9]+)\.(?P<kind>execute-api|lambda-url)\.[a-z0-9-]+\.(?:amazonaws\.com|on\.aws)$", re.IGNORECASE
)
#: API Gateway's integration timeout when an integration names none (REST and HTTP APIs: 29 s / 30 s).
DEFAULT_TIMEOUT_MS = {"REST": 29_000, "HTTP": 30_000}


def integration_timeout(value: Any, kind: str) -> float:
    """The integration's TimeoutInMillis in seconds (API Gateway's default when unset)."""
    try:
        millis = int(value) if value not in (None, "") else DEFAULT_TIMEOUT_MS[kind]
    except (TypeError, ValueError):
        millis = DEFAULT_TIMEOUT_MS[kind]
    return max(millis, 50) / 1000


def local_url(url: str, base_url: str) -> tuple[str, str, str, str] | None:
    """An AWS endpoint URL this local cloud serves, rewritten to the front door at ``base_url``:
    (url, Host header, kind, id), or None for any other URL."""
    parts = urllib.parse.urlsplit(url)
    match = _LOCAL_HOSTS.match(parts.hostname or "")
    if not match:
        return None
    base = urllib.parse.urlsplit(base_url)
    kind, endpoint_id = match.group("kind").lower(), match.group("id")
    host = f"{endpoint_id}.{kind}.localhost:{base.port}"
    return urllib.parse.urlunsplit(("http", base.netloc, parts.path or "/", parts.query, "")), host, kind, endpoint_id


class _IntegrationTimeout(Exception):
    """The HTTP backend did not answer within the integration timeout (API Gateway: 504)."""


class _BackendUnreachable(Exception):
    """The HTTP backend refused or dropped the connection (API Gateway: 502)."""


#: Where an integration URL is sent: (url, Host header or None); raises _BackendUnreachable.
LocalResolver = Callable[[str], tuple[str, str | None]]


def _http_call(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    timeout: float,
    resolve: LocalResolver | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Call an HTTP integration endpoint (no proxies) within ``timeout`` seconds.

    ``resolve`` sends URLs of APIs and function URLs deployed here to the front door; a backend
    slower than the timeout raises _IntegrationTimeout, one that cannot be reached
    _BackendUnreachable — the two failures API Gateway answers differently.
    """
    host = None
    if resolve is not None:
        url, host = resolve(url)
    if host is not None:
        headers = {k: v for k, v in headers.items() if k.lower() != "host"}
        headers["Host"] = host
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    outgoing = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with opener.open(outgoing, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()
    except TimeoutError as error:
        raise _IntegrationTimeout(f"HTTP integration {url} did not answer within {timeout:g} s") from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise _IntegrationTimeout(f"HTTP integration {url} did not answer within {timeout:g} s") from error
        raise _BackendUnreachable(f"HTTP integration {url} failed: {error.reason}") from error
    except OSError as error:
        raise _BackendUnreachable(f"HTTP integration {url} failed: {error}") from error


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


class _IntegrationFailure(Exception):
    """The integration could not be called (configuration or backend error) → 500."""
