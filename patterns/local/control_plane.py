"""The local cloud server's control plane over HTTP, and a client for it.

``LocalCloudServer`` offers ``fire_schedule``, ``drain`` and ``invocations`` in its own process. A
separate process (the ``make demo`` driver, a script against ``python -m patterns.local serve``)
reaches the same operations on the server's endpoint, served by the moto server itself on
127.0.0.1 under ``/_localcloud/`` (no S3 bucket name starts with ``_``)::

    POST {endpoint}/_localcloud/schedules/{schedule}/fire   fire a rule schedule or Scheduler schedule
    POST {endpoint}/_localcloud/drain?timeout=30            run until quiet (504 + pending on timeout)
    GET  {endpoint}/_localcloud/invocations?function=Name   the journal (of one function), oldest first
    GET  {endpoint}/_localcloud/pending | errors | health

``{schedule}`` is a name, logical id or construct path (URL-encode it; slashes may stay), like
``fire_schedule``. Requests to the control plane do not hold the backend lock, so a drain runs
while handlers call the server. With only the endpoint URL::

    from patterns.local import control

    cloud = control("http://localhost:4566")   # default: $AWS_ENDPOINT_URL
    cloud.fire_schedule("ScheduledServiceDemo/HealthCheck/Schedule")
    cloud.drain()
    print([i.ok for i in cloud.invocations("ScheduledServiceDemo/HealthCheck/Checker")])
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DrainTimeout, LocalCloudError
from .guard import SECRET_HEADER
from .runtime import Invocation

if TYPE_CHECKING:
    from .cloud import LocalCloudServer

PREFIX = "/_localcloud/"

_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    504: "Gateway Timeout",
}


#: The longest drain a caller may ask for (s): a drain holds a server thread while it runs.
MAX_DRAIN_TIMEOUT = 3600.0


class _BadParameter(Exception):
    """A control-plane parameter that is not valid (answered 400 with the reason)."""


def _drain_timeout(text: str) -> float:
    """``timeout`` of a drain: a finite number of seconds in (0, MAX_DRAIN_TIMEOUT]."""
    try:
        value = float(text)
    except ValueError:
        raise _BadParameter(f"timeout must be a number of seconds (given {text!r})") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_DRAIN_TIMEOUT:
        raise _BadParameter(
            f"timeout must be a finite number of seconds in (0, {MAX_DRAIN_TIMEOUT:g}] (given {text!r})"
        )
    return value


def _invocation_json(invocation: Invocation) -> dict[str, Any]:
    return dataclasses.asdict(invocation)


def _invocation_from_json(data: dict[str, Any]) -> Invocation:
    names = {f.name for f in dataclasses.fields(Invocation)}
    return Invocation(**{k: v for k, v in data.items() if k in names})


class ControlApp:
    """WSGI middleware: ``/_localcloud/...`` is the control plane, everything else goes to moto."""

    def __init__(self, cloud: LocalCloudServer, app: Callable[..., Iterable[bytes]]) -> None:
        self.cloud = cloud
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or ""
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
        status, payload = self.handle(environ.get("REQUEST_METHOD", "GET"), path[len(PREFIX) :], query)
        body = json.dumps(payload, default=str).encode()
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def handle(self, method: str, route: str, query: dict[str, str]) -> tuple[int, Any]:
        cloud = self.cloud
        route = urllib.parse.unquote(route).strip("/")
        try:
            if route == "health" and method == "GET":
                return 200, {"ok": True, "endpoint": cloud.endpoint, "front_door": cloud.front_door_url}
            if route.startswith("schedules/") and route.endswith("/fire"):
                if method != "POST":
                    return 405, {"error": "MethodNotAllowed", "message": "use POST"}
                schedule = route[len("schedules/") : -len("/fire")]
                cloud.fire_schedule(schedule)
                return 200, {"fired": schedule}
            if route == "drain":
                if method != "POST":
                    return 405, {"error": "MethodNotAllowed", "message": "use POST"}
                timeout = _drain_timeout(query.get("timeout", "30"))
                try:
                    cloud.drain(timeout=timeout)
                except DrainTimeout as exc:
                    return 504, {"error": "DrainTimeout", "message": str(exc), "pending": exc.pending}
                return 200, {"drained": True}
            if route == "invocations" and method == "GET":
                function = query.get("function")
                entries = cloud.invocations(function) if function else cloud.invocations()
                return 200, {"invocations": [_invocation_json(i) for i in entries]}
            if route == "pending" and method == "GET":
                return 200, {"pending": cloud.pending()}
            if route == "errors" and method == "GET":
                return 200, {"errors": cloud.errors}
        except _BadParameter as exc:
            return 400, {"error": "ValidationError", "message": str(exc)}
        except LocalCloudError as exc:
            status = 404 if str(exc).startswith("no ") else 400  # "no deployed resource ...", "no stack ..."
            return status, {"error": type(exc).__name__, "message": str(exc)}
        except Exception as exc:  # reported to the caller, never raised into the server thread
            return 500, {"error": type(exc).__name__, "message": str(exc)}
        return 404, {"error": "NotFound", "message": f"no control route {method} {PREFIX}{route}"}


def make_server(cloud: LocalCloudServer, host: str, port: int, *, read_timeout: float = 30.0) -> Any:
    """The moto server of ``cloud``, bound now (a busy port raises OSError here) and not yet started.

    Its WSGI app is moto's, wrapped in the control plane and, outermost, the guard: the Host and
    Origin checks, SigV4 with the server's credentials, and the server's secret on the control plane
    and ``/moto-api/``. moto's global CORS (every origin reflected) is switched off.
    """
    import moto.moto_server.werkzeug_app as werkzeug_app
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    from .guard import BoundServer, Guard

    werkzeug_app.DISABLE_GLOBAL_CORS = True
    app = Guard(
        ControlApp(cloud, DomainDispatcherApplication(create_backend_app)),
        port=lambda: cloud.port,
        allowed_origins=cloud.allowed_origins,
        secret=cloud.secret,
        secret_paths=(PREFIX, "/moto-api/"),
        credentials=cloud.secret_access_key,
        cors=True,
    )
    return BoundServer(
        app, host, port, request_handler=MotoRequestHandler, read_timeout=read_timeout, name="local-cloud-moto"
    )


#: The endpoint is on this machine: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ControlClient:
    """The control plane of a running local cloud server, from any process."""

    def __init__(self, endpoint: str, *, secret: str | None = None, timeout: float = 120.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        #: The server's secret (sent in X-Local-Cloud-Secret): given, or found by server_secret().
        self.secret = secret or server_secret(self.endpoint)

    def _call(
        self, method: str, route: str, query: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        url = f"{self.endpoint}{PREFIX}{route}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
        if self.secret:
            request.add_header(SECRET_HEADER, self.secret)
        try:
            with _OPENER.open(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read() or b"{}")
            except ValueError:
                payload = {}
            if payload.get("error") == "DrainTimeout":
                raise DrainTimeout(float((query or {}).get("timeout", 0)), payload.get("pending", [])) from None
            message = payload.get("message") or f"HTTP {exc.code} from {url}"
            raise LocalCloudError(f"{method} {url}: {message}") from None
        except urllib.error.URLError as exc:
            raise LocalCloudError(f"the local cloud at {self.endpoint} is not reachable: {exc.reason}") from None

    def health(self) -> dict[str, Any]:
        """The server's endpoint and front door URL; raises LocalCloudError if it does not answer."""
        return self._call("GET", "health")  # type: ignore[no-any-return]

    def fire_schedule(self, schedule: str) -> None:
        """Run a schedule now (rule or EventBridge Scheduler schedule), as ``LocalCloudServer.fire_schedule``."""
        self._call("POST", f"schedules/{urllib.parse.quote(schedule, safe='')}/fire")

    def drain(self, timeout: float = 30.0) -> None:
        """Run pollers and deliveries until nothing is left; DrainTimeout names what was pending."""
        self._call("POST", "drain", {"timeout": timeout}, timeout=timeout + 30)

    def invocations(self, function: str | None = None) -> list[Invocation]:
        """The journal (of one function: name, ARN, logical id or construct path), in completion order."""
        data = self._call("GET", "invocations", {"function": function})
        return [_invocation_from_json(i) for i in data["invocations"]]

    def pending(self) -> list[str]:
        return list(self._call("GET", "pending")["pending"])

    def errors(self) -> list[str]:
        return list(self._call("GET", "errors")["errors"])


def control(endpoint: str | None = None, *, secret: str | None = None, timeout: float = 120.0) -> ControlClient:
    """A client of the control plane of the local cloud server at ``endpoint`` (default:
    ``$AWS_ENDPOINT_URL``, which ``python -m patterns.local serve`` prints).

    ``secret`` defaults to the one the server wrote into its record for this user
    (``server_record_path``), else ``$LOCAL_CLOUD_SECRET`` (which ``serve`` prints)."""
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise LocalCloudError("no endpoint given and AWS_ENDPOINT_URL is not set")
    return ControlClient(endpoint, secret=secret, timeout=timeout)


#: The environment variable carrying a server's secret to other processes (``serve`` prints it).
SECRET_ENV = "LOCAL_CLOUD_SECRET"


def _records_dir() -> Path:
    """A folder only this user can read: $XDG_RUNTIME_DIR/patterns-local, else /tmp/patterns-local-<uid>."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = (
        Path(runtime) / "patterns-local" if runtime else Path(tempfile.gettempdir()) / f"patterns-local-{os.getuid()}"
    )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise LocalCloudError(f"{folder} must belong to this user and be private (mode 700)")
    return folder


def server_record_path(port: int) -> Path:
    """Where the server listening on ``port`` records its endpoint and secret for this user's processes."""
    return _records_dir() / f"server-{port}.json"


def write_private(path: Path, document: dict[str, Any]) -> None:
    """Write JSON readable by this user only (it holds the server's secret)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        json.dump(document, handle, indent=2)


def server_secret(endpoint: str) -> str | None:
    """The secret of the server at ``endpoint``: from its record if it runs as this user, else $LOCAL_CLOUD_SECRET."""
    port = urllib.parse.urlsplit(endpoint).port
    if port is not None:
        try:
            record = json.loads(server_record_path(port).read_text())
        except (OSError, ValueError, LocalCloudError):
            record = {}
        if record.get("secret"):
            return str(record["secret"])
    return os.environ.get(SECRET_ENV) or None
