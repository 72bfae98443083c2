"""One cold start, in the fresh interpreter ``bench.handlers`` starts: run as a script, never imported.

``handler`` mode: import the handler module from its asset folder and invoke it once with the event,
as a new Lambda execution environment does; prints the import and first-invocation times in ms.
``record`` mode: the same, also listing every AWS call the invocation made (service, operation,
params), untimed. ``baseline`` mode: a minimal boto3-only handler making exactly those calls.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any


class Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def run_handler(folder: str, handler: str, event: Any, record: bool) -> dict[str, Any]:
    calls: list[list[Any]] = []
    if record:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call

        def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
            calls.append([self.meta.service_model.service_name, operation, params])
            return original(self, operation, params)

        BaseClient._make_api_call = recording  # type: ignore[method-assign]
    module_name, function_name = handler.rsplit(".", 1)
    sys.path.insert(0, folder)
    started = time.perf_counter()
    module = __import__(module_name)
    imported = time.perf_counter()
    error = None
    try:
        getattr(module, function_name)(event, Context())
    except Exception as exc:  # a failing first invocation is still a measured cold start
        error = f"{type(exc).__name__}: {exc}"
    invoked = time.perf_counter()
    return {"import_ms": (imported - started) * 1000, "invoke_ms": (invoked - imported) * 1000,
            "error": error, "calls": calls}


def run_baseline(calls: list[list[Any]]) -> dict[str, Any]:
    """Import boto3, make one client per service, make the same calls (their errors are results too)."""
    started = time.perf_counter()
    import boto3

    clients: dict[str, Any] = {}
    imported = time.perf_counter()
    for service, operation, params in calls:
        client = clients.get(service) or clients.setdefault(service, boto3.client(service))
        with contextlib.suppress(Exception):  # a replayed conditional write may fail; the call was made
            client._make_api_call(operation, params)
    invoked = time.perf_counter()
    return {"import_ms": (imported - started) * 1000, "invoke_ms": (invoked - imported) * 1000}


def main() -> None:
    mode, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as spec_file:
        spec = json.load(spec_file)
    if mode == "baseline":
        result = run_baseline(spec["calls"])
    else:
        result = run_handler(spec["folder"], spec["handler"], spec["event"], record=mode == "record")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
