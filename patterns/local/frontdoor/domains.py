"""Custom domain names on the front door: several APIs under one base URL, chosen by base path.

A request for ``http://127.0.0.1:PORT/<domain>/<path>`` (or host-style ``<domain>.localhost``)
goes where API Gateway sends ``https://<domain>/<path>``: to the mapping whose base path is the
longest leading run of whole path segments (``orders/v2`` before ``orders``, ``orders`` never
matching ``ordersx``), else to the empty base path's mapping, else ``403 {"message":"Forbidden"}``.
The base path is stripped before route matching; what the function sees is what API Gateway
passes (documented by the Powertools ``strip_prefixes`` option, which exists for this): a REST
proxy event's ``path`` and ``requestContext.path`` and an HTTP API's ``rawPath`` keep the base path,
``resource`` / ``routeKey`` do not. A REST mapping without a stage takes the stage from the next
segment, as ``Stage: (none)`` does on AWS.

Mappings are read live from moto's backends on every request (a redeploy is picked up at once):
REST ``BasePathMapping`` entries and v2 ``ApiMapping`` entries, whichever API kind they point at.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request

from .http import _HttpInvocation
from .requests import _json_reply, _Reply, _Request
from .rest import _RestInvocation

if TYPE_CHECKING:
    from .apigateway import FrontDoor

__all__ = ["Mapping", "dispatch", "domain_names", "known", "mappings", "select", "url_for"]

_FORBIDDEN = {"message": "Forbidden"}


@dataclass(frozen=True)
class Mapping:
    """One base path of a custom domain: ``key`` ("" for the empty base path) → API stage."""

    domain: str
    key: str
    api_id: str
    stage: str | None

    @property
    def segments(self) -> list[str]:
        return self.key.split("/") if self.key else []


def domain_names(account_id: str, region: str) -> set[str]:
    """Every custom domain name deployed (REST and HTTP domain names share one namespace)."""
    from moto.apigateway.models import apigateway_backends
    from moto.apigatewayv2.models import apigatewayv2_backends

    return set(apigateway_backends[account_id][region].domain_names) | set(
        apigatewayv2_backends[account_id][region].domain_names
    )


def mappings(account_id: str, region: str, domain: str) -> list[Mapping]:
    """The domain's base path mappings, REST BasePathMappings and v2 ApiMappings together."""
    from moto.apigateway.models import apigateway_backends
    from moto.apigatewayv2.models import apigatewayv2_backends

    found = [
        Mapping(domain, "" if m.base_path == "(none)" else m.base_path, m.rest_api_id, m.stage)
        for m in (apigateway_backends[account_id][region].base_path_mappings.get(domain) or {}).values()
    ]
    found += [
        Mapping(domain, m.api_mapping_key or "", m.api_id, m.stage)
        for m in apigatewayv2_backends[account_id][region].api_mappings.values()
        if m.domain_name == domain
    ]
    return found


def select(candidates: Iterable[Mapping], segments: list[str]) -> Mapping | None:
    """The mapping with the longest base path that is a whole-segment prefix of ``segments``."""
    best: Mapping | None = None
    for mapping in candidates:
        wanted = mapping.segments
        if segments[: len(wanted)] == wanted and (best is None or len(wanted) > len(best.segments)):
            best = mapping
    return best


def _domain_of(host: str, segments: list[str]) -> tuple[str, list[str]] | None:
    """(domain, segments after it) for a custom-domain request, None for anything else."""
    hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    # <api>.execute-api.localhost and <url-id>.lambda-url.localhost are the front door's own host-style names.
    if hostname.endswith(".localhost") and ".execute-api." not in hostname and ".lambda-url." not in hostname:
        return hostname[: -len(".localhost")], segments
    if segments and "." in segments[0]:  # API ids never hold a dot; domain names always do
        return segments[0].lower(), segments[1:]
    return None


def dispatch(door: FrontDoor, request: Request, raw_headers: list[tuple[str, str]], host: str) -> _Reply | None:
    """Serve a custom-domain request; None when the request is not for a custom domain."""
    from moto.apigateway.models import apigateway_backends
    from moto.apigatewayv2.models import apigatewayv2_backends

    target = _domain_of(host, request.path.split("/")[1:])
    if target is None:
        return None
    domain, segments = target[0], [s for s in target[1] if s]
    with door._lock:
        if domain not in domain_names(door.account_id, door.region):
            return _json_reply(404, {"message": f"No custom domain name {domain!r} is deployed in the local cloud"})
        mapping = select(mappings(door.account_id, door.region, domain), segments)
        if mapping is None:
            return _json_reply(403, _FORBIDDEN)
        rest_api = apigateway_backends[door.account_id][door.region].apis.get(mapping.api_id)
        http_api = None if rest_api else apigatewayv2_backends[door.account_id][door.region].apis.get(mapping.api_id)
        remaining = segments[len(mapping.segments) :]
        stage_name = mapping.stage
        if stage_name is None:  # REST "Stage: (none)": the caller names the stage
            stage_name, remaining = (remaining[0] if remaining else ""), remaining[1:]
        stages = rest_api.stages if rest_api is not None else (http_api.stages if http_api is not None else {})
        stage = stages.get(stage_name)
    if stage is None:
        return _json_reply(403, _FORBIDDEN)
    path = "/" + "/".join(remaining)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query_string = request.query_string.decode("latin-1")
    local = _Request(
        method=request.method.upper(),
        path=path,
        raw_path="/" + "/".join(segments) if segments else "/",
        raw_query=query_string,
        query=urllib.parse.parse_qsl(query_string, keep_blank_values=True),
        headers=[(k, v) for k, v in raw_headers if k.lower() != "host"] + [("Host", domain)],
        body=request.get_data(),
        source_ip=request.remote_addr or "127.0.0.1",
        host=domain,
        base_path=mapping.key,
    )
    if rest_api is not None:
        return _RestInvocation(door, rest_api, stage, local).run()
    return _HttpInvocation(door, http_api, stage, local).run()


def url_for(door: FrontDoor, domain: str) -> str:
    """The local base URL that answers as ``https://<domain>`` does."""
    return f"{door.base_url}/{domain.lower()}"


def known(door: FrontDoor, domain: str) -> bool:
    with door._lock:
        return domain.lower() in domain_names(door.account_id, door.region)
