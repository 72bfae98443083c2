"""What a demo's ``drive`` gets: the deployed stack's outputs and clients bound to the target cloud."""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3

T = TypeVar("T")


@dataclass(frozen=True)
class DriveResult:
    """One row of ``make demo``'s table."""

    sent: str
    outcome: str
    ok: bool


@dataclass
class HttpResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class DriveContext:
    """Outputs of the deployed demo stack, boto3 clients and HTTP for its APIs."""

    stack_id: str
    outputs: dict[str, str]
    session: boto3.session.Session
    endpoint_url: str | None = None
    #: maps a deployed API URL (``https://{id}.execute-api...``) to where it is served
    api_url: Callable[[str], str] = lambda url: url
    #: fires an EventBridge schedule rule now (the local cloud's control plane); None where unsupported
    fire_schedule: Callable[[str], None] | None = None
    #: maps a deployed CloudFront distribution URL (``https://d....cloudfront.net``) to where it is served
    distribution_url: Callable[[str], str] = lambda url: url

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def http(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> HttpResponse:
        """Send a request to an API of the stack; JSON in, JSON (or text) out, errors included."""
        data = json.dumps(body).encode() if body is not None and not isinstance(body, (bytes, str)) else body
        if isinstance(data, str):
            data = data.encode()
        url = self.distribution_url(self.api_url(url))
        if (urllib.parse.urlsplit(url).hostname or "").endswith(".localhost"):
            return _loopback_request(method, url, data, {"content-type": "application/json", **(headers or {})})
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"content-type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, hdrs = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, hdrs = error.code, error.read(), dict(error.headers)
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return HttpResponse(status, parsed, hdrs)

    @staticmethod
    def wait_for(check: Callable[[], T | None], *, timeout: float = 30, interval: float = 0.2) -> T | None:
        """Poll ``check`` until it returns something truthy or the timeout passes (then None)."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                return None
            time.sleep(interval)


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def _loopback_request(method: str, url: str, data: bytes | None, headers: dict[str, str]) -> HttpResponse:
    """A request to a ``<name>.localhost`` URL (a local CloudFront distribution): browsers resolve such
    names to the loopback address themselves; here the connection goes to 127.0.0.1 with that Host."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port or 80, timeout=30)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=data, headers={"Host": parts.netloc, **headers})
        response = connection.getresponse()
        raw = response.read()
        return HttpResponse(response.status, _parsed(raw), dict(response.getheaders()))
    finally:
        connection.close()


_DISTRIBUTION_URL = re.compile(r"^https://(?P<domain>[a-z0-9]+\.cloudfront\.net)(?P<path>/.*)?$")


def distribution_url_mapper(url_for: Callable[[str], str]) -> Callable[[str], str]:
    """Map deployed distribution URLs onto a local cloud's ``distribution_url(domain name)``."""

    def mapped(url: str) -> str:
        match = _DISTRIBUTION_URL.match(url)
        if not match:
            return url
        return url_for(match["domain"]).rstrip("/") + (match["path"] or "")

    return mapped


_API_URL = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<stage>[^/]+)/?(?P<path>.*)$"
)


_DOMAIN_URL = re.compile(r"^https://(?P<domain>[a-z0-9.-]+\.[a-z]{2,63})(?P<path>/.*)?$")


def api_url_mapper(
    url_for: Callable[[str, str], str], domain_url: Callable[[str], str] | None = None
) -> Callable[[str], str]:
    """Map deployed API Gateway URLs onto a local front door's ``url_for(api_id, stage)``, and
    ``https://<custom domain>/...`` onto its ``domain_url(domain)`` when given."""

    def mapped(url: str) -> str:
        match = _API_URL.match(url)
        if not match:
            custom = _DOMAIN_URL.match(url) if domain_url is not None else None
            if custom is None or domain_url is None:
                return url
            try:
                return domain_url(custom["domain"]).rstrip("/") + (custom["path"] or "")
            except Exception:  # not a domain the local cloud serves: the URL goes out as it is
                return url
        base = url_for(match["api"], match["stage"]).rstrip("/")
        return f"{base}/{match['path']}"

    return mapped
