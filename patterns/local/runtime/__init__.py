"""Lambda execution environments as OS processes, forked from a preloaded fork server.

Layered below the rest of the local cloud: nothing here imports from patterns.local outside this
package. ``LambdaRuntime`` is the service side (pools, invocations, limits, logs, the journal);
``_envmain`` is what runs inside an environment.
"""

from __future__ import annotations

from .code import CodeCache
from .forkserver import ForkServer, ForkServerError, shared_fork_server
from .lambda_runtime import LambdaRuntime
from .model import (
    POWERTOOLS_LAYER_ACCOUNT,
    RESERVED_ENV,
    FunctionSpec,
    FunctionThrottled,
    Invocation,
    InvokeOutcome,
    Journal,
    LayerSpec,
)

__all__ = [
    "POWERTOOLS_LAYER_ACCOUNT",
    "RESERVED_ENV",
    "CodeCache",
    "ForkServer",
    "ForkServerError",
    "FunctionSpec",
    "FunctionThrottled",
    "Invocation",
    "InvokeOutcome",
    "Journal",
    "LambdaRuntime",
    "LayerSpec",
    "shared_fork_server",
]
