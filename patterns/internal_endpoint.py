"""CATALOG 13 — InternalEndpoint: the two Lambda execution models between internal functions.

A caller function invokes a worker function synchronously (RequestResponse: the worker's result,
or its error, comes back to the caller) or asynchronously (Event: Lambda queues the event, retries a
failing run and then records the outcome in a destination). The worker's EventInvokeConfig bounds
the retries and the event age and sends every outcome somewhere: successes to the on-success
destination, exhausted failures to the on-failure destination — nothing is dropped silently.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=13,
    name="InternalEndpoint",
    construct="InternalEndpoint",
    module="patterns.internal_endpoint",
    demo_stack="InternalEndpointDemo",
    handlers=("internal_endpoint",),
    family="Messaging and integration",
    summary="caller invokes a worker sync (result or error returned) and async (retries, success/failure destinations)",
)

#: Lambda's limits on asynchronous invocation settings.
_MAX_RETRY_ATTEMPTS = 2
_MIN_EVENT_AGE = Duration.seconds(60)
_MAX_EVENT_AGE = Duration.hours(6)
#: The caller's timeout is the worker's plus this margin (capped at Lambda's 900 s).
_CALLER_MARGIN_SECONDS = 5
_MAX_TIMEOUT_SECONDS = 900


class InternalEndpoint(Construct):
    """A worker function other functions call, and a caller that shows both invocation types.

    :param retry_attempts: retries of a failed asynchronous invocation, 0-2. Default: 2.
    :param max_event_age: how long Lambda keeps an asynchronous event before giving up, 60 s-6 h.
        Default: 1 hour.
    :param on_success: where the record of a successful asynchronous invocation goes (any
        ``aws_lambda.IDestination``: queue, topic, bus, function). Default: a new encrypted, TLS-only
        queue with its own DLQ (``success_queue``).
    :param on_failure: where the record of an asynchronous invocation that exhausted its retries or
        its age goes. Default: a new encrypted, TLS-only queue keeping records 14 days (``failure_queue``).
    :param worker_code: the worker's code asset. Default: ``lambdas/internal_endpoint``.
    :param worker_handler: the worker's handler. Default: ``worker.handler``.
    :param caller_code: the caller's code asset. Default: ``lambdas/internal_endpoint``.
    :param caller_handler: the caller's handler; it finds the worker in ``WORKER_FUNCTION_NAME``.
        Default: ``caller.handler``.
    :param function_options: memory, timeout, log retention... of both functions; the caller's timeout is
        the worker's plus 5 seconds, so a synchronous call always sees the worker's answer or error.
        Default: core defaults (worker 10 s, caller 15 s).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``worker``, ``caller``, ``event_invoke_config``, ``success_queue`` and
    ``success_dead_letter_queue`` (None when ``on_success`` is given), ``failure_queue`` (None when
    ``on_failure`` is given), ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retry_attempts: int = _MAX_RETRY_ATTEMPTS,
        max_event_age: Duration | None = None,
        on_success: lambda_.IDestination | None = None,
        on_failure: lambda_.IDestination | None = None,
        worker_code: lambda_.Code | None = None,
        worker_handler: str = "worker.handler",
        caller_code: lambda_.Code | None = None,
        caller_handler: str = "caller.handler",
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        event_age = max_event_age or Duration.hours(1)
        core.validation.in_range("retry_attempts", retry_attempts, 0, _MAX_RETRY_ATTEMPTS)
        core.validation.in_range(
            "max_event_age (seconds)", event_age.to_seconds(), _MIN_EVENT_AGE.to_seconds(),
            _MAX_EVENT_AGE.to_seconds(),
        )
        opts = function_options or core.FunctionOptions()
        worker_timeout = int(opts.timeout.to_seconds())

        self.success_queue: sqs.IQueue | None = None
        self.success_dead_letter_queue: sqs.IQueue | None = None
        if on_success is None:
            pair = core.queue_with_dlq(self, "SuccessQueue", consumer_timeout=opts.timeout)
            self.success_queue, self.success_dead_letter_queue = pair.queue, pair.dead_letter_queue
            on_success = destinations.SqsDestination(pair.queue)
        self.failure_queue: sqs.IQueue | None = None
        if on_failure is None:
            self.failure_queue = core.dead_letter_queue(
                self, "FailureQueue", purpose="the worker's asynchronous invocations (on-failure destination)"
            )
            on_failure = destinations.SqsDestination(self.failure_queue)

        self.worker: lambda_.Function = core.python_function(
            self, "Worker",
            code=worker_code or core.handler_code("internal_endpoint"),
            handler=worker_handler,
            service="worker",
            invocation="async",
            description=f"{construct_id}: worker invoked synchronously and asynchronously",
            options=opts,
        )
        core.nag.acknowledge(
            self.worker, "Serverless-LambdaDLQ",
            "asynchronous failures go to the on-failure destination of the worker's EventInvokeConfig, which "
            "records the error and request as well as the event; a dead-letter queue would keep only the event",
        )
        self.event_invoke_config = lambda_.EventInvokeConfig(
            self, "WorkerAsyncConfig",
            function=self.worker,
            retry_attempts=retry_attempts,
            max_event_age=event_age,
            on_success=on_success,
            on_failure=on_failure,
        )

        self.caller: lambda_.Function = core.python_function(
            self, "Caller",
            code=caller_code or core.handler_code("internal_endpoint"),
            handler=caller_handler,
            service="caller",
            invocation="sync",
            description=f"{construct_id}: calls the worker with RequestResponse or Event",
            options=opts,
            # A synchronous caller must outlive the worker, or the worker's error never reaches it.
            timeout=Duration.seconds(min(worker_timeout + _CALLER_MARGIN_SECONDS, _MAX_TIMEOUT_SECONDS)),
            environment={
                "WORKER_FUNCTION_NAME": self.worker.function_name,
                "WORKER_TIMEOUT_SECONDS": str(worker_timeout),
            },
        )
        _grant_invoke(self.worker, self.caller)

        dead_letters: dict[str, sqs.IQueue] = {}
        if self.failure_queue is not None:
            dead_letters["FailureQueue"] = self.failure_queue
        if self.success_dead_letter_queue is not None:
            dead_letters["SuccessDeadLetterQueue"] = self.success_dead_letter_queue
        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Worker": self.worker, "Caller": self.caller},
            dead_letter_queues=dead_letters,
        ).alarms

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call the caller (the endpoint's entry point)."""
        return _grant_invoke(self.caller, grantee)

    def grant_invoke_worker(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke the worker directly, synchronously or asynchronously."""
        return _grant_invoke(self.worker, grantee)


def _grant_invoke(function: lambda_.IFunction, grantee: iam.IGrantable) -> iam.Grant:
    """``lambda:InvokeFunction`` on the unqualified ARN only; ``IFunction.grant_invoke`` also grants
    ``<arn>:*`` (every version and alias), a wildcard nothing here needs."""
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=["lambda:InvokeFunction"], resource_arns=[function.function_arn]
    )
