"""Which local cloud the moto hooks serve: one per process at a time.

A leaf module, so the CloudFormation models (a lower layer) can reach the running cloud without
importing the layer that builds it.
"""

from __future__ import annotations

import threading
from typing import Any

from .errors import LocalCloudError

_active_lock = threading.Lock()
_active: Any = None


def activate(core: Any) -> None:
    """Make ``core`` the cloud the moto hooks serve; one local cloud per process at a time."""
    global _active
    with _active_lock:
        if _active is not None and _active is not core:
            raise LocalCloudError("another local cloud is already running in this process")
        _active = core


def deactivate(core: Any) -> None:
    global _active
    with _active_lock:
        if _active is core:
            _active = None


def active() -> Any:
    if _active is None:
        raise LocalCloudError("no local cloud is running")
    return _active
