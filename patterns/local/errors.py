"""Exceptions of the local cloud; every one names what failed so a test failure is readable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LocalCloudError(Exception):
    """Base class of every error the local cloud raises on purpose."""


class UnsupportedResourceError(LocalCloudError):
    """A template uses a resource type the local cloud cannot create (strict mode)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        listed = ", ".join(f"{logical_id} ({resource_type})" for logical_id, resource_type in problems)
        super().__init__(f"the local cloud cannot create these resources: {listed}")


class DeployError(LocalCloudError):
    """A stack did not reach CREATE_COMPLETE / UPDATE_COMPLETE."""

    def __init__(self, stack_name: str, status: str, reason: str) -> None:
        self.stack_name = stack_name
        self.status = status
        self.reason = reason
        super().__init__(f"stack {stack_name} ended in {status}: {reason}")


class DrainTimeout(LocalCloudError):
    """drain() gave up while work was still pending."""

    def __init__(self, timeout: float, pending: Sequence[str]) -> None:
        self.pending = list(pending)
        lines = "\n  ".join(self.pending) or "(nothing reported)"
        super().__init__(f"the local cloud was still busy after {timeout:.1f} s:\n  {lines}")


class FunctionError(LocalCloudError):
    """A synchronous invocation ended in a function error; ``error`` has the Lambda error shape."""

    def __init__(self, function_name: str, error: dict[str, Any]) -> None:
        self.function_name = function_name
        self.error = error
        super().__init__(f"{function_name} failed: {error.get('errorType')}: {error.get('errorMessage')}")
