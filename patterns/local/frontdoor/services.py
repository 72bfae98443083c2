"""AWS service integrations of the front door: the call API Gateway makes on the caller's behalf."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .requests import _BOTOCORE_NAMES, _LOG, _IntegrationFailure

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

