"""The state shared by the in-process cloud and the server: backends, runtime, engine, delivery."""

from __future__ import annotations

import importlib
import json
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .._lock import BackendLock
from ..delivery.engine import Engine, Settings
from ..errors import FunctionError, LocalCloudError
from ..runtime import CodeCache, FunctionSpec, Journal, LambdaRuntime
from .moto_fixes import expire_log_events

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


def _moto_backend(module: str, backends: str, account_id: str, region: str) -> Any:
    """moto's backend of one service for an account and region (imported when first needed)."""
    return getattr(importlib.import_module(module), backends)[account_id][region]


class CloudCore:
    """Everything the hooks, pollers and deployers of one local cloud share.

    Handlers run in execution environments (processes) and reach AWS over HTTP in both modes: they get
    ``AWS_ENDPOINT_URL`` and the local credentials in ``handler_env`` (the server's endpoint, or the
    in-process cloud's moto port). In-process clients of ``client()`` use moto's mock directly.
    """

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        settings: Settings | None = None,
        background: bool = False,
        handler_env: Mapping[str, str] | None = None,
        work_dir: Path | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.settings = settings or Settings()
        self.lock = BackendLock()
        self.journal = Journal(self.settings.journal_limit)
        self._own_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="local-cloud-"))
        self.handler_env: dict[str, str] = dict(handler_env or {})
        self.runtime = LambdaRuntime(
            code_cache=CodeCache(self.work_dir / "code"),
            journal=self.journal,
            write_logs=self._write_logs,
            release_backend=self._released,
            extra_env=lambda: self.handler_env,
            clock_skew=lambda: self.engine.skew,
            layer_stand_ins=lambda: self.settings.layer_stand_ins,
        )
        self.engine = Engine(self, self.settings, background=background)
        self.delivery_errors: list[str] = []
        #: Base URL of the HTTP front door while it runs (set by the cloud that started it).
        self.front_door_url: str | None = None
        #: Set by a server: where handlers and in-process clients reach the cloud over HTTP.
        self.endpoint: str | None = None
        self.credentials: dict[str, str] = {}
        from ..models.custom_resources import ResponseCatcher

        self.response_catcher = ResponseCatcher()
        self._hooks: Any = None
        #: The Step Functions execution service (set when the hooks are installed).
        self.stepfunctions: Any = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------

    def install(self) -> None:
        from .hooks import Hooks

        self.runtime.install()
        self._hooks = Hooks(self)
        self._hooks.install()
        self.engine.start()

    def uninstall(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.engine.stop()
        if self._hooks is not None:
            self._hooks.uninstall()
        self.runtime.uninstall()
        self.response_catcher.close()
        if self._own_dir:
            import shutil

            shutil.rmtree(self.work_dir, ignore_errors=True)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client of this cloud (no retries: a throttle or error shows at once)."""
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "region_name": self.region,
            "config": Config(retries={"total_max_attempts": 1}, read_timeout=300),
        }
        if self.endpoint is not None:
            options["endpoint_url"] = self.endpoint
            options.update(
                aws_access_key_id=self.credentials.get("AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=self.credentials.get("AWS_SECRET_ACCESS_KEY"),
            )
        options.update(kwargs)
        return boto3.client(service, **options)

    def _released(self) -> AbstractContextManager[None]:
        return self.lock.released()

    # -- backends --------------------------------------------------------------------------------

    @staticmethod
    def lambda_backend(account_id: str, region: str) -> Any:
        return _moto_backend("moto.awslambda.models", "lambda_backends", account_id, region)

    @staticmethod
    def sqs_backend(account_id: str, region: str) -> Any:
        return _moto_backend("moto.sqs.models", "sqs_backends", account_id, region)

    @staticmethod
    def sns_backend(account_id: str, region: str) -> Any:
        return _moto_backend("moto.sns.models", "sns_backends", account_id, region)

    @staticmethod
    def events_backend(account_id: str, region: str) -> Any:
        return _moto_backend("moto.events.models", "events_backends", account_id, region)

    @staticmethod
    def logs_backend(account_id: str, region: str) -> Any:
        return _moto_backend("moto.logs.models", "logs_backends", account_id, region)

    @staticmethod
    def kinesis_backend(account_id: str, region: str) -> Any:
        return _moto_backend("moto.kinesis.models", "kinesis_backends", account_id, region)

    @staticmethod
    def sfn_backend(account_id: str, region: str) -> Any:
        return _moto_backend("moto.stepfunctions.parser.models", "stepfunctions_parser_backends", account_id, region)

    @staticmethod
    def stream_table(account_id: str, region: str, stream_arn: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        for table in dynamodb_backends[account_id][region].tables.values():
            label = getattr(table, "latest_stream_label", None)
            if label and f"{table.table_arn}/stream/{label}" == stream_arn:
                return table
        return None

    @staticmethod
    def event_source_mappings() -> Iterator[Any]:
        from moto.awslambda.models import lambda_backends

        for regions in list(lambda_backends.values()):
            for backend in list(regions.values()):
                yield from list(backend._event_source_mappings.values())

    # -- functions -------------------------------------------------------------------------------

    def _split_ref(self, ref: str) -> tuple[str, str, str, str | None]:
        """(account, region, name, qualifier) of a function name or (qualified) ARN."""
        if ref.startswith("arn:"):
            parts = ref.split(":")
            qualifier = parts[7] if len(parts) > 7 else None
            return parts[4], parts[3], parts[6], qualifier
        name, _, qualifier = ref.partition(":")
        return self.account_id, self.region, name, qualifier or None

    def moto_function(self, ref: str) -> Any:
        """The moto LambdaFunction for a name or ARN, or None; call under the lock."""
        account, region, name, qualifier = self._split_ref(ref)
        try:
            backend = self.lambda_backend(account, region)
            return backend.get_function(name, qualifier if qualifier not in (None, "$LATEST") else None)
        except Exception:  # moto raises several "not found" types
            return None

    def function_spec(self, ref: str) -> FunctionSpec | None:
        with self.lock:
            fn = self.moto_function(ref)
            return None if fn is None else FunctionSpec.from_moto(fn)

    def event_invoke_config(self, function_name: str) -> dict[str, Any]:
        with self.lock:
            fn = self.moto_function(function_name)
            configs = getattr(fn, "event_invoke_config", None) or []
            return dict(configs[-1].config) if configs else {}

    def dead_letter_target(self, function_name: str) -> str | None:
        with self.lock:
            fn = self.moto_function(function_name)
            props = getattr(fn, "local_cloud_props", None) or {}
        return (props.get("DeadLetterConfig") or {}).get("TargetArn")

    def invoke(self, function_ref: str, event: Any, *, source: str = "invoke") -> Any:
        """Run a function synchronously and return its result; FunctionError on a function error."""
        spec = self.function_spec(function_ref)
        if spec is None:
            raise LocalCloudError(f"no Lambda function {function_ref!r}")
        outcome = self.runtime.invoke(spec, event, source=source)
        if outcome.error is not None:
            raise FunctionError(spec.name, outcome.error)
        return outcome.result

    # -- logs ------------------------------------------------------------------------------------

    def _write_logs(self, spec: FunctionSpec, stream: str, lines: list[str]) -> None:
        now = int(time.time() * 1000)
        with self.lock:
            logs = self.logs_backend(spec.account_id, spec.region)
            if spec.log_group not in logs.groups:
                logs.create_log_group(spec.log_group, {})
            group = logs.groups[spec.log_group]
            if stream not in group.streams:
                logs.create_log_stream(spec.log_group, stream)
            logs.put_log_events(spec.log_group, stream, [{"timestamp": now, "message": line} for line in lines if line])
            # The group's retention, on the local cloud's clock (drain() moves it ahead).
            expire_log_events(group, self.engine.clock())

    # -- delivery to destinations ----------------------------------------------------------------

    def deliver(
        self,
        target_arn: str,
        payload: Any,
        *,
        attributes: Mapping[str, Any] | None = None,
        source: str = "destination",
        group_id: str | None = None,
    ) -> None:
        """Send a record to an SQS queue, SNS topic, Lambda function, event bus or state machine."""
        body = payload if isinstance(payload, str) else json.dumps(payload)
        parts = target_arn.split(":")
        service, region, account = parts[2], parts[3], parts[4]
        try:
            if service == "lambda":
                self.engine.invoke_async(target_arn, payload, source=source)
                return
            with self.lock:
                if service == "sqs":
                    queue = parts[5]
                    fifo = queue.endswith(".fifo")
                    self.sqs_backend(account, region).send_message(
                        queue,
                        body,
                        message_attributes=dict(attributes or {}),
                        group_id=group_id or ("local-cloud" if fifo else None),
                        deduplication_id=str(time.time_ns()) if fifo else None,
                    )
                elif service == "sns":
                    sns_attributes = {
                        k: {"Type": v.get("DataType", "String"), "Value": v.get("StringValue")}
                        for k, v in (attributes or {}).items()
                    }
                    self.sns_backend(account, region).publish(
                        body, arn=target_arn, message_attributes=sns_attributes or None
                    )
                elif service == "events":
                    bus = target_arn.split("/")[-1]
                    self.events_backend(account, region).put_events(
                        [
                            {
                                "Source": "lambda",
                                "DetailType": _detail_type(payload),
                                "Detail": body,
                                "EventBusName": bus,
                                "Resources": [target_arn],
                            }
                        ]
                    )
                elif service == "states":
                    self.sfn_backend(account, region).start_execution(target_arn, execution_input=body)
                else:
                    raise LocalCloudError(f"cannot deliver to {target_arn}")
        except Exception as exc:  # a lost delivery is recorded, never silent
            self.delivery_errors.append(f"delivery to {target_arn} failed: {exc}")
            raise

    # -- step functions --------------------------------------------------------------------------

    def running_executions(self) -> list[str]:
        """Step Functions executions still running (drain() waits for them)."""
        return self.stepfunctions.running() if self.stepfunctions is not None else []

    def executions_busy(self) -> bool:
        """Whether an execution thread is working now (not waiting on the virtual clock)."""
        return bool(self.stepfunctions is not None and self.stepfunctions.busy())


def _detail_type(payload: Any) -> str:
    condition = (payload.get("requestContext") or {}).get("condition") if isinstance(payload, dict) else None
    if condition == "Success":
        return "Lambda Function Invocation Result - Success"
    return "Lambda Function Invocation Result - Failure"
