"""The error a state raises: an ASL error name (``States.TaskFailed``, a Lambda errorType, ...) and a cause."""

from __future__ import annotations


class StatesError(Exception):
    """A failure that Retry and Catch can match by ``error``; ``cause`` is the human-readable detail."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class ExecutionStopped(Exception):
    """The execution was stopped (StopExecution) or timed out while this branch was running."""
