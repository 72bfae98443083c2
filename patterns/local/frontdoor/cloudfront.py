"""CloudFront distributions on the front door: ``http://<distribution id>.cloudfront.localhost:PORT/...``.

A request to a distribution goes as CloudFront sends it (models/cloudfront.py has the parsed
distribution): the first cache behaviour whose path pattern matches (in the distribution's order,
then the default), its allowed methods (others: 403), the default root object for ``/``, the
origin path in front of the viewer's path, and only the headers / cookies / query strings the
behaviour's cache and origin request policies forward. Origins:

- S3: the object is read from the deployed bucket *as the bucket policy allows it*: signed by an
  origin access control, the request is the ``cloudfront.amazonaws.com`` service principal with
  ``AWS:SourceArn`` = the distribution's ARN; unsigned, it is anonymous. Denied → 403, a missing key
  → 403 too unless the policy grants ``s3:ListBucket`` (then 404), as S3 answers.
- API Gateway: over HTTP to the API on this front door (``<api>.execute-api.localhost``).
- HTTP: a loopback server (``localhost`` / ``127.0.0.1`` with its HTTPPort).

Custom error responses apply to every behaviour's answers, as on CloudFront: an origin error whose
code is configured is replaced by the response page (fetched through the behaviour its path
matches) with the configured code. The response headers policy of the request's behaviour is
applied last, so error answers carry the security headers too. No caching: each request reaches the
origin (``X-Cache: Miss from cloudfront``).
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.client
import json
import re
import secrets
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..models.cloudfront import STORE, Behavior, LocalDistribution, Origin, ResponseHeaders
from .requests import _LOG, _Reply

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

__all__ = ["CloudFrontDoor", "bucket_policy_decision", "distribution_in_host"]

_HOST = re.compile(r"^(?P<id>[a-z0-9]+)\.cloudfront\.localhost(?::\d+)?$", re.IGNORECASE)
#: Headers CloudFront never passes from the viewer to the origin (hop-by-hop, or its own).
_NEVER_FORWARDED = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "content-length",
        "expect",
        "via",
        "x-forwarded-for",
        "accept-encoding",
    }
)
#: Request headers every origin gets whatever the policies say (the body's own description).
_ALWAYS_FORWARDED = frozenset({"content-type"})
#: Origin response headers not passed on to the viewer (hop-by-hop).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"})


def distribution_in_host(host: str) -> str | None:
    """The distribution id of a ``<id>.cloudfront.localhost[:port]`` Host, else None."""
    match = _HOST.match(host.strip())
    return match["id"] if match else None


# ---------------------------------------------------------------------------------------------
# S3 bucket policies (the part of S3 authorization an origin access control depends on)
# ---------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, caller: Mapping[str, str]) -> bool:
    """``caller``: {"Service": ...} or {"AWS": "*"} (anonymous)."""
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for kind, values in principal.items():
        for value in _as_list(values):
            if kind == "AWS" and value == "*":
                return True
            if kind in caller and caller[kind] == value:
                return True
    return False


_OPERATORS = frozenset(
    {
        "StringEquals",
        "ArnEquals",
        "StringNotEquals",
        "ArnNotEquals",
        "StringEqualsIgnoreCase",
        "StringLike",
        "ArnLike",
        "StringNotLike",
        "ArnNotLike",
        "Bool",
        "Null",
    }
)


def _condition_matches(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """IAM condition operators on the request context (keys case-insensitive, as IAM reads them)."""
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, tests in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        if base not in _OPERATORS:
            raise ValueError(f"condition operator {operator} is not evaluated by the local cloud")
        for key, wanted in tests.items():
            present = key.lower() in lowered
            if not present:
                if if_exists or base == "Null":
                    if base == "Null" and str(_as_list(wanted)[0]).lower() != "true":
                        return False
                    continue
                return False
            actual = lowered[key.lower()]
            values = [str(v) for v in _as_list(wanted)]
            if base in ("StringEquals", "ArnEquals"):
                ok = actual in values
            elif base in ("StringNotEquals", "ArnNotEquals"):
                ok = actual not in values
            elif base == "StringEqualsIgnoreCase":
                ok = actual.lower() in [v.lower() for v in values]
            elif base in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif base in ("StringNotLike", "ArnNotLike"):
                ok = not any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif base == "Bool":
                ok = actual.lower() in [v.lower() for v in values]
            elif base == "Null":
                ok = str(values[0]).lower() == "false"
            else:
                raise ValueError(f"condition operator {operator} is not evaluated by the local cloud")
            if not ok:
                return False
    return True


def _matches_any(patterns: Iterable[str], value: str, *, case_sensitive: bool) -> bool:
    if case_sensitive:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def bucket_policy_decision(
    policy: Mapping[str, Any] | None, caller: Mapping[str, str], action: str, resource: str, context: Mapping[str, str]
) -> str:
    """ "Allow", "Deny" (explicit) or "None" for one S3 action by ``caller`` under a bucket policy.

    A statement with a condition operator the evaluator does not know raises: a Deny that is
    silently skipped would grant access the real bucket refuses.
    """
    decision = "None"
    for statement in _as_list((policy or {}).get("Statement")):
        if "Principal" in statement and not _principal_matches(statement["Principal"], caller):
            continue
        if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], caller):
            continue
        if "Action" in statement and not _matches_any(_as_list(statement["Action"]), action, case_sensitive=False):
            continue
        if "NotAction" in statement and _matches_any(_as_list(statement["NotAction"]), action, case_sensitive=False):
            continue
        if "Resource" in statement and not _matches_any(_as_list(statement["Resource"]), resource, case_sensitive=True):
            continue
        if "NotResource" in statement and _matches_any(
            _as_list(statement["NotResource"]), resource, case_sensitive=True
        ):
            continue
        if not _condition_matches(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            decision = "Allow"
    return decision


def _s3_error(status: int, code: str, message: str) -> _Reply:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    ).encode()
    return _Reply(status, [("Content-Type", "application/xml")], body)


# ---------------------------------------------------------------------------------------------
# The distribution server
# ---------------------------------------------------------------------------------------------


class CloudFrontDoor:
    """Serves distributions for a FrontDoor (its base URL reaches the API Gateway origins)."""

    def __init__(self, front_door: Any) -> None:
        self.front_door = front_door

    def url_for(self, distribution_id: str) -> str:
        """``http://<id>.cloudfront.localhost:PORT``: a host of its own, so a page's absolute paths work."""
        port = urllib.parse.urlsplit(self.front_door.base_url).port
        return f"http://{distribution_id.lower()}.cloudfront.localhost:{port}"

    def handle(self, distribution_id: str, request: Request, raw_headers: list[tuple[str, str]]) -> _Reply:
        distribution = STORE.distribution(distribution_id)
        if distribution is None or distribution.account_id != self.front_door.account_id:
            return _s3_error(404, "NoSuchDistribution", f"No distribution {distribution_id} is deployed")
        request_id = secrets.token_urlsafe(30)
        path = urllib.parse.unquote(request.path) or "/"
        behavior = distribution.behavior_for(path)
        method = request.method.upper()
        if not distribution.enabled:
            reply = _s3_error(403, "DistributionDisabled", "The distribution is disabled")
        elif method not in behavior.allowed_methods:
            reply = _Reply(
                403,
                [("Content-Type", "text/html")],
                b"<html><body><h1>403 ERROR</h1><p>This distribution is not configured to allow the HTTP "
                b"request method that was used for this request.</p></body></html>",
            )
        else:
            origin_path = path
            if path == "/" and distribution.default_root_object:
                origin_path = "/" + distribution.default_root_object
            reply = self._fetch(distribution, behavior, method, origin_path, request, raw_headers)
            reply = self._error_response(distribution, reply, request, raw_headers)
        _apply_response_headers(reply, behavior.response_headers)
        reply.set_header("Via", f"1.1 {distribution.domain_name.split('.')[0]}.cloudfront.net (CloudFront)")
        reply.set_header("X-Cache", "Error from cloudfront" if reply.status >= 400 else "Miss from cloudfront")
        reply.set_header("X-Amz-Cf-Id", request_id)
        reply.set_header("X-Amz-Cf-Pop", "LOCAL1-C1")
        return reply

    def _error_response(
        self, distribution: LocalDistribution, reply: _Reply, request: Request, raw_headers: list[tuple[str, str]]
    ) -> _Reply:
        configured = distribution.error_responses.get(reply.status)
        if configured is None:
            return reply
        if not configured.page_path:
            if configured.response_code is not None:
                reply.status = configured.response_code
            return reply
        page_behavior = distribution.behavior_for(configured.page_path)
        page = self._fetch(distribution, page_behavior, "GET", configured.page_path, request, raw_headers)
        if page.status >= 400:
            return reply  # the error page itself failed: the viewer gets the origin's error
        page.status = configured.response_code if configured.response_code is not None else reply.status
        return page

    def _fetch(
        self,
        distribution: LocalDistribution,
        behavior: Behavior,
        method: str,
        path: str,
        request: Request,
        raw_headers: list[tuple[str, str]],
    ) -> _Reply:
        origin = behavior.origin
        if origin.kind == "s3":
            return self._from_bucket(distribution, origin, method, path)
        headers = _forwarded_headers(behavior, raw_headers)
        headers += list(origin.custom_headers)
        query = _forwarded_query(behavior, request.query_string.decode("latin-1"))
        target = urllib.parse.quote(origin.path + path, safe="/~!$&'()*+,;=:@%") + (f"?{query}" if query else "")
        body = request.get_data() if method not in ("GET", "HEAD") else b""
        viewer_host = request.host or ""
        if origin.kind == "apigateway":
            port = urllib.parse.urlsplit(self.front_door.base_url).port
            if behavior.forwarding.viewer_host:
                # API Gateway routes by Host: the viewer's (a CloudFront name) is not one of its APIs.
                return _Reply(403, [("Content-Type", "application/json")], b'{"message":"Forbidden"}')
            host, connect_port = f"{origin.api_id}.execute-api.localhost:{port}", int(port or 0)
        else:
            host = viewer_host if behavior.forwarding.viewer_host else f"{origin.domain}:{origin.port}"
            connect_port = origin.port
        headers.append(("Host", host))
        headers.append(("Via", f"1.1 {distribution.domain_name.split('.')[0]}.cloudfront.net (CloudFront)"))
        headers.append(("X-Forwarded-For", request.remote_addr or "127.0.0.1"))
        headers.append(("X-Amz-Cf-Id", secrets.token_urlsafe(30)))
        return _http(connect_port, method, target, headers, body, self.front_door.read_timeout)

    def _from_bucket(self, distribution: LocalDistribution, origin: Origin, method: str, path: str) -> _Reply:
        from moto.s3.models import s3_backends

        if method not in ("GET", "HEAD"):
            return _s3_error(403, "AccessDenied", f"{method} to an S3 origin is not allowed locally")
        key = (origin.path + path).lstrip("/")
        caller = {"Service": "cloudfront.amazonaws.com"} if origin.signed else {"AWS": "*"}
        context = {"aws:SecureTransport": "true"}
        if origin.signed:
            context |= {"AWS:SourceArn": distribution.arn, "AWS:SourceAccount": distribution.account_id}
        with self.front_door._lock:
            backend = s3_backends[distribution.account_id]["aws"]
            bucket = backend.buckets.get(origin.bucket)
            if bucket is None:
                return _s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
            policy = json.loads(bucket.policy) if bucket.policy else None
            try:
                read = bucket_policy_decision(
                    policy, caller, "s3:GetObject", f"arn:aws:s3:::{origin.bucket}/{key}", context
                )
                listing = bucket_policy_decision(
                    policy, caller, "s3:ListBucket", f"arn:aws:s3:::{origin.bucket}", context
                )
            except ValueError as exc:
                _LOG.warning("bucket policy of %s not evaluated: %s", origin.bucket, exc)
                return _s3_error(403, "AccessDenied", "Access Denied")
            block = bucket.public_access_block
            if not origin.signed and block is not None and block.restrict_public_buckets:
                read = "Deny"  # RestrictPublicBuckets: anonymous callers are refused whatever the policy says
            if read != "Allow":
                return _s3_error(403, "AccessDenied", "Access Denied")
            found = bucket.keys.get(key) if key else None
            if found is None:
                if listing == "Allow":
                    return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
                return _s3_error(403, "AccessDenied", "Access Denied")
            data = found.value
            headers = [
                ("Content-Type", str(found.metadata.get("Content-Type") or "binary/octet-stream")),
                ("ETag", found.etag),
                ("Last-Modified", found.last_modified_RFC1123),
            ]
        return _Reply(200, headers, b"" if method == "HEAD" else data)


def _forwarded_headers(behavior: Behavior, raw_headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    forwarding = behavior.forwarding.headers
    return [
        (name, value)
        for name, value in raw_headers
        if name.lower() not in _NEVER_FORWARDED
        and (name.lower() in _ALWAYS_FORWARDED or forwarding.allows(name) or _cookie_allowed(behavior, name))
    ]


def _cookie_allowed(behavior: Behavior, header: str) -> bool:
    """Cookies travel as one header; forwarded whole when the policies forward any cookie."""
    return header.lower() == "cookie" and behavior.forwarding.cookies.behavior != "none"


def _forwarded_query(behavior: Behavior, raw_query: str) -> str:
    if not raw_query:
        return ""
    rule = behavior.forwarding.query_strings
    if rule.behavior == "all":
        return raw_query
    kept = [
        part
        for part in raw_query.split("&")
        if part and rule.allows(urllib.parse.unquote_plus(part.partition("=")[0]), case_sensitive=True)
    ]
    return "&".join(kept)


def _http(port: int, method: str, target: str, headers: list[tuple[str, str]], body: bytes, timeout: float) -> _Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        reply_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        return _Reply(response.status, reply_headers, data)
    except OSError as exc:
        _LOG.warning("CloudFront origin on port %s failed: %s", port, exc)
        return _Reply(
            502,
            [("Content-Type", "text/html")],
            b"<html><body><h1>502 ERROR</h1><p>CloudFront wasn't able to connect to the origin.</p></body></html>",
        )
    finally:
        with contextlib.suppress(OSError):
            connection.close()


def _apply_response_headers(reply: _Reply, policy: ResponseHeaders | None) -> None:
    """Add (override or keep the origin's) and remove headers, as a response headers policy says."""
    if policy is None:
        return
    present = {name.lower() for name, _ in reply.headers}
    for rule in policy.add:
        if rule.override or rule.name.lower() not in present:
            reply.set_header(rule.name, rule.value)
    removed = {name.lower() for name in policy.remove}
    if removed:
        reply.headers = [(k, v) for k, v in reply.headers if k.lower() not in removed]
