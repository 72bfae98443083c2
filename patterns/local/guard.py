"""One WSGI guard in front of every port of the local cloud server.

A server on 127.0.0.1 is still reachable from every web page the developer has open: a page can
send simple requests (form POSTs) to it, preflight and read when it answers CORS, and reach it under
its own host name through DNS rebinding. ``Guard`` wraps any WSGI app and refuses, before the app
sees the request:

- a ``Host`` that is not this server's loopback name and port (``localhost``, ``127.0.0.1`` or a
  ``*.localhost`` name, as S3 virtual-host buckets and ``execute-api`` hosts use) → 403;
- a request carrying a foreign ``Origin`` or ``Referer`` (not this server's own origin, not in the
  ``allowed_origins`` allowlist) → 403, as LocalStack answers a forbidden origin;
- on ``secret_paths`` (the control plane, ``/moto-api/``), a request without the server's secret in
  the ``X-Local-Cloud-Secret`` header → 403;
- with ``credentials`` (access key id → secret access key), an AWS API request not signed with
  them: the access key id must be known and the SigV4 signature must verify → 403 with AWS's error
  code (``MissingAuthenticationToken``, ``InvalidClientTokenId``, ``SignatureDoesNotMatch``) —
  except the documents AWS serves to anyone (``PUBLIC_GET``: a user pool's JWKS and OpenID
  configuration, which token verifiers fetch without credentials).

``cors=True`` answers preflights of allowlisted origins itself and adds ``Access-Control-Allow-Origin``
for them (nothing for any other origin: moto's own reflect-every-origin CORS is switched off).
S3 presigned URLs are checked too (SigV4, and the legacy SigV2 kind boto3 makes for us-east-1).
The signing date and a presigned URL's expiry are not checked against the wall clock: handlers sign
with the local cloud's clock, which ``drain()`` moves ahead of the wall clock.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import io
import json
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: Unsigned GETs AWS answers: ``https://cognito-idp.<region>.amazonaws.com/<pool id>/.well-known/...``.
PUBLIC_GET = re.compile(r"^/[a-z]{2}(?:-[a-z]+)+-\d_[0-9A-Za-z]+/\.well-known/(?:jwks\.json|openid-configuration)$")

#: The header carrying the per-server secret of the control plane and /moto-api/.
SECRET_HEADER = "X-Local-Cloud-Secret"

_LOOPBACK_NAMES = ("localhost", "127.0.0.1")

#: How often a serving thread checks for shutdown: stopping a server waits up to this long (the
#: standard library's 0.5 s made every LocalCloud.close() half a second slower per port).
SHUTDOWN_POLL_SECONDS = 0.05


def host_allowed(host: str, port: int) -> bool:
    """True for ``localhost:PORT``, ``127.0.0.1:PORT`` and ``<name>.localhost:PORT``."""
    name, sep, given_port = host.strip().lower().rpartition(":")
    if not sep or not given_port.isdigit() or int(given_port) != port:
        return False
    return name in _LOOPBACK_NAMES or (name.endswith(".localhost") and ".." not in name)


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL (an Origin header or a Referer), or None if it has none."""
    parts = urllib.parse.urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _uri_encode(value: str, *, slash: bool = True) -> str:
    return urllib.parse.quote(value, safe="-_.~" + ("" if slash else "/"))


def _canonical_query(raw_query: str, *, drop: str | None = None) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        key, _, value = part.partition("=")
        key, value = urllib.parse.unquote(key), urllib.parse.unquote(value)
        if key != drop:
            pairs.append((_uri_encode(key), _uri_encode(value)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header_value(environ: Mapping[str, Any], name: str) -> str:
    key = name.upper().replace("-", "_")
    value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}", "")
    return " ".join(str(value).split())


def _raw_path(environ: Mapping[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0] or "/"
    return urllib.parse.quote(environ.get("PATH_INFO", "") or "/", safe="/~")


class SigV4Error(Exception):
    """Why a request's signature is refused: (AWS error code, message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _parse_authorization(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    if scheme != "AWS4-HMAC-SHA256":
        raise SigV4Error("IncompleteSignature", f"Unsupported authorization scheme {scheme!r}; use SigV4")
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise SigV4Error("IncompleteSignature", "Authorization header requires Credential, SignedHeaders, Signature")
    return fields


SecretLookup = Callable[[str], "str | None"]


def verify_sigv4(environ: dict[str, Any], credentials: SecretLookup) -> str:
    """Verify a SigV4-signed request (header or presigned query); returns the access key id.

    The payload hash is the ``X-Amz-Content-SHA256`` header when sent (S3; streaming uploads sign
    their seed this way), else the SHA-256 of the body, which is read and put back for the app.
    """
    raw_query = str(environ.get("QUERY_STRING", "") or "")
    query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
    header = _header_value(environ, "authorization")
    if header:
        fields = _parse_authorization(header)
        credential, signed_headers, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
        amz_date = _header_value(environ, "x-amz-date")
        canonical_query = _canonical_query(raw_query)
    elif "Signature" in query and "AWSAccessKeyId" in query:
        return _verify_s3_query_v2(environ, query, credentials)
    elif "X-Amz-Signature" in query:
        credential = query.get("X-Amz-Credential", [""])[-1]
        signed_headers = query.get("X-Amz-SignedHeaders", ["host"])[-1]
        signature = query["X-Amz-Signature"][-1]
        amz_date = query.get("X-Amz-Date", [""])[-1]
        canonical_query = _canonical_query(raw_query, drop="X-Amz-Signature")
    else:
        raise SigV4Error("MissingAuthenticationToken", "Request is missing Authentication Token")
    access_key, _, scope = credential.partition("/")
    secret = credentials(access_key)
    if secret is None:
        raise SigV4Error("InvalidClientTokenId", "The security token included in the request is invalid.")
    scope_parts = scope.split("/")
    if len(scope_parts) != 4 or scope_parts[3] != "aws4_request" or not amz_date:
        raise SigV4Error("IncompleteSignature", f"Credential scope {scope!r} or X-Amz-Date is malformed")
    date, region, service, _ = scope_parts

    payload_hash = _header_value(environ, "x-amz-content-sha256")
    if not payload_hash:
        payload_hash = "UNSIGNED-PAYLOAD" if "X-Amz-Signature" in query and not header else _body_hash(environ)
    names = [n.strip().lower() for n in signed_headers.split(";") if n.strip()]
    canonical_headers = "".join(f"{n}:{_header_value(environ, n)}\n" for n in names)

    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    raw_path = _raw_path(environ)
    # S3 signs the path as sent; every other service URI-encodes each segment once more.
    paths = {raw_path, _uri_encode(raw_path, slash=False), _uri_encode(urllib.parse.unquote(raw_path), slash=False)}
    for path in paths:
        canonical = "\n".join(
            [
                str(environ.get("REQUEST_METHOD", "GET")),
                path,
                canonical_query,
                canonical_headers,
                ";".join(names),
                payload_hash,
            ]
        )
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            return access_key
    raise SigV4Error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
    )


#: S3 sub-resources that are part of a (SigV2) string to sign.
_S3_SUBRESOURCES = frozenset(
    [
        "acl",
        "accelerate",
        "analytics",
        "cors",
        "delete",
        "encryption",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "restore",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
    ]
)


def _verify_s3_query_v2(environ: dict[str, Any], query: dict[str, list[str]], credentials: SecretLookup) -> str:
    """An S3 presigned URL of the legacy (SigV2) kind, which boto3 still makes for us-east-1."""
    access_key = query["AWSAccessKeyId"][-1]
    secret = credentials(access_key)
    if secret is None:
        raise SigV4Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    host = str(environ.get("HTTP_HOST", "")).rpartition(":")[0].lower()
    bucket = host[: -len(".localhost")] if host.endswith(".localhost") else ""
    resource = (f"/{bucket}" if bucket else "") + _raw_path(environ)
    subresources = sorted((k, v[-1]) for k, v in query.items() if k in _S3_SUBRESOURCES)
    if subresources:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subresources)
    amz_headers = sorted(
        (k[5:].lower().replace("_", "-"), " ".join(str(v).split()))
        for k, v in environ.items()
        if k.startswith("HTTP_X_AMZ_")
    )
    to_sign = "\n".join(
        [
            str(environ.get("REQUEST_METHOD", "GET")),
            _header_value(environ, "content-md5"),
            _header_value(environ, "content-type"),
            query.get("Expires", [""])[-1],
            *[f"{k}:{v}" for k, v in amz_headers],
            resource,
        ]
    )
    expected = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    if hmac.compare_digest(expected, query["Signature"][-1]):
        return access_key
    raise SigV4Error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    )


def _body_hash(environ: dict[str, Any]) -> str:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return hashlib.sha256(body).hexdigest()


class Guard:
    """WSGI middleware: ``Guard(app, port=..., ...)`` answers 403 to what must not reach ``app``.

    ``port`` is the port the server is reached on (an int, or a callable for a server that learns
    its port when it binds). ``allowed_origins`` are extra browser origins (``http://localhost:3000``)
    allowed besides the server's own. ``secret`` guards every path starting with one of
    ``secret_paths``. ``credentials`` (access key id → secret access key, a mapping or a lookup
    function returning None for an unknown key) turns on SigV4 checks of every other request.
    ``cors`` answers CORS for allowlisted origins (AWS API ports only; the API front door answers
    CORS as each deployed API configures it).
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        port: int | Callable[[], int],
        allowed_origins: Iterable[str] = (),
        secret: str | None = None,
        secret_paths: Iterable[str] = (),
        credentials: Mapping[str, str] | SecretLookup | None = None,
        cors: bool = False,
    ) -> None:
        self.app = app
        self._port = port
        self.allowed_origins = frozenset(o for o in (_origin_of(x) for x in allowed_origins) if o)
        self.secret = secret
        self.secret_paths = tuple(secret_paths)
        if credentials is None or callable(credentials):
            self.credentials: SecretLookup | None = credentials
        else:
            self.credentials = dict(credentials).get
        self.cors = cors

    @property
    def port(self) -> int:
        return self._port() if callable(self._port) else self._port

    def origin_allowed(self, origin: str) -> bool:
        """This server's own origin (``http://<allowed host>``) or an allowlisted one."""
        if origin in self.allowed_origins:
            return True
        parts = urllib.parse.urlsplit(origin)
        return parts.scheme == "http" and host_allowed(parts.netloc, self.port)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST", ""))
        if not host_allowed(host, self.port):
            return _deny(start_response, "ForbiddenHost", f"Host {host!r} is not this local cloud (DNS rebinding?)")
        origin_header = str(environ.get("HTTP_ORIGIN", "")).strip()
        origin = _origin_of(origin_header) if origin_header else None
        if origin_header and (origin is None or not self.origin_allowed(origin)):
            return _deny(start_response, "ForbiddenOrigin", f"Origin {origin_header!r} may not use this local cloud")
        referer = str(environ.get("HTTP_REFERER", "")).strip()
        referer_origin = _origin_of(referer) if referer else None
        if referer and (referer_origin is None or not self.origin_allowed(referer_origin)):
            return _deny(start_response, "ForbiddenOrigin", "the Referer's origin may not use this local cloud")
        path = str(environ.get("PATH_INFO", "") or "")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if self.cors and origin and method == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return self._preflight(environ, origin, start_response)
        respond = self._with_cors(origin, start_response) if self.cors and origin else start_response
        if any(path.startswith(prefix) for prefix in self.secret_paths):
            given = str(environ.get("HTTP_" + SECRET_HEADER.upper().replace("-", "_"), ""))
            if not self.secret or not hmac.compare_digest(given.encode(), self.secret.encode()):
                return _deny(respond, "MissingSecret", f"{path} needs the server's secret in {SECRET_HEADER}")
            return self.app(environ, respond)
        public = method in ("GET", "HEAD") and PUBLIC_GET.match(path) is not None
        if self.credentials is not None and not public:
            try:
                verify_sigv4(environ, self.credentials)
            except SigV4Error as exc:
                return _deny(respond, exc.code, exc.message, aws=environ)
        return self.app(environ, respond)

    def _preflight(self, environ: dict[str, Any], origin: str, start_response: Callable[..., Any]) -> list[bytes]:
        headers = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE, HEAD, PATCH"),
            ("Access-Control-Allow-Headers", str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", ""))),
            ("Access-Control-Max-Age", "600"),
            ("Vary", "Origin"),
            ("Content-Length", "0"),
        ]
        start_response("200 OK", headers)
        return [b""]

    @staticmethod
    def _with_cors(origin: str, start_response: Callable[..., Any]) -> Callable[..., Any]:
        def respond(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            kept += [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Expose-Headers", "*"),
                ("Vary", "Origin"),
            ]
            return start_response(status, kept, *args)

        return respond


def _deny(
    start_response: Callable[..., Any], code: str, message: str, *, aws: Mapping[str, Any] | None = None
) -> list[bytes]:
    """403 in the caller's protocol: AWS's JSON error for JSON APIs, its XML error otherwise."""
    if aws is not None and (
        aws.get("HTTP_X_AMZ_TARGET")
        or "json" in str(aws.get("CONTENT_TYPE", ""))
        or "cbor" in str(aws.get("CONTENT_TYPE", ""))
    ):
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    elif aws is not None:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>"
            "</Error></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    else:
        body = json.dumps({"error": code, "message": message}).encode()
        content_type = "application/json"
    start_response("403 Forbidden", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _probe(host: str, port: int) -> None:
    """Raise OSError(EADDRINUSE) if ``port`` is taken (werkzeug would print and exit instead)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class BoundServer:
    """A threaded werkzeug server, bound when constructed (a busy port fails there, at once),
    serving on a daemon thread once started.

    ``read_timeout`` (s) bounds every wait for the client: a request that stops sending (a body
    announced and never sent, slowloris headers) and an idle keep-alive connection are closed
    after it, so they cannot pile up threads and sockets.
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str,
        port: int,
        *,
        request_handler: type[Any] | None = None,
        read_timeout: float = 30.0,
        name: str = "local-cloud-server",
    ) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        base = request_handler or WSGIRequestHandler
        handler = type(f"Timed{base.__name__}", (base,), {"timeout": read_timeout})
        if port:
            _probe(host, port)
        try:
            self.server = make_server(host, port, app, threaded=True, request_handler=handler)
        except SystemExit:  # werkzeug exits the process when the port is taken
            raise OSError(errno.EADDRINUSE, f"port {port} is already in use") from None
        self.server.daemon_threads = True
        self.port: int = int(self.server.server_port)
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name=name, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(timeout=10)
        self.server.server_close()
