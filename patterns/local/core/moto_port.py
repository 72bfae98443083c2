"""moto's backends of the in-process LocalCloud, served over HTTP on 127.0.0.1 for its execution environments.

Handlers run in their own processes, so they cannot use the in-process mock: they reach the same
backends through this server (moto's ThreadedMotoServer started inside ``mock_aws`` shares them).
Requests take the backend lock like any other (the dispatcher is locked by hooks.py). ``wrap`` lets a
WSGI middleware (Host / Origin / credential checks) sit in front of moto's application.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..guard import SHUTDOWN_POLL_SECONDS

#: A WSGI application (environ, start_response) -> body.
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


@dataclass
class MotoPort:
    """A running server: ``endpoint`` is what handlers get as AWS_ENDPOINT_URL."""

    server: Any
    thread: threading.Thread
    port: int

    @property
    def endpoint(self) -> str:
        # localhost, not 127.0.0.1: moto reads an S3 bucket name from a 127.0.0.1 host (facts file).
        return f"http://localhost:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def serve_moto(*, host: str = "127.0.0.1", port: int = 0, wrap: Callable[[WsgiApp], WsgiApp] | None = None) -> MotoPort:
    """Serve moto's backends (of this process) on ``host:port`` (a free port by default) in a thread."""
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):  # type: ignore[misc]
        """No access log: every AWS call of every handler would be a line in the test's output."""

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    if wrap is not None:
        app = wrap(app)
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="local-cloud-moto-port", daemon=True
    )
    thread.start()
    return MotoPort(server=server, thread=thread, port=int(server.server_address[1]))
