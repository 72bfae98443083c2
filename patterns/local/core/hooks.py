"""Every change the local cloud makes to moto's internals, installed and removed as one unit.

moto is pinned to an exact version (5.2.5) because these hooks replace private methods. Each hook
says which moto behaviour it replaces and why; uninstall() restores the originals, so plain moto
tests in the same process are not affected once a local cloud is closed.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError

from ..delivery import targets as delivery
from ..models import registry as cfn
from ..runtime import FunctionSpec, FunctionThrottled
from . import moto_fixes

if TYPE_CHECKING:
    from . import CloudCore

#: Response header (internal) carrying an async invocation's request id to the response's RequestId.
_REQUEST_ID_HEADER = "x-local-cloud-request-id"

#: Properties of AWS::Lambda::Function that moto's model drops but the local cloud uses.
_KEPT_FUNCTION_PROPS = ("LoggingConfig", "DeadLetterConfig", "TracingConfig", "Layers", "Architectures")


class TooManyRequestsException(JsonRESTError):
    """Lambda's throttling error (HTTP 429) for a synchronous invoke over reserved concurrency."""

    code = 429

    def __init__(self, message: str) -> None:
        super().__init__("TooManyRequestsException", message)


class Patcher:
    """Sets attributes and remembers how to put the previous ones back."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, bool, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        namespace = vars(owner)
        self._saved.append((owner, name, name in namespace, namespace.get(name)))
        setattr(owner, name, value)

    def restore(self) -> None:
        for owner, name, existed, old in reversed(self._saved):
            if existed:
                setattr(owner, name, old)
            else:
                delattr(owner, name)
        self._saved.clear()


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _classmethod_function(owner: type, name: str) -> Callable[..., Any]:
    return vars(owner)[name].__func__  # type: ignore[no-any-return]


class Hooks:
    """The patch set of one local cloud."""

    def __init__(self, core: CloudCore) -> None:
        self.core = core
        self.patcher = Patcher()

    def install(self) -> None:
        from moto.core import config as moto_config

        self._saved_sfn_config = copy.deepcopy(moto_config.default_user_config.get("stepfunctions"))
        moto_config.default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self._lock_hooks()
        self._lambda_hooks()
        self._source_hooks()
        self._delivery_hooks()
        self._stepfunctions_hooks()
        cfn.install(self.core, self.patcher)
        moto_fixes.install(self.patcher, clock=self.core.engine.clock)

    def uninstall(self) -> None:
        from moto.core import config as moto_config

        self.patcher.restore()
        cfn.clear_model_caches()
        moto_config.default_user_config["stepfunctions"] = self._saved_sfn_config or {"execute_state_machine": False}

    # -- one lock around moto -------------------------------------------------------------------

    def _lock_hooks(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
        from moto.sqs.models import Queue

        lock = self.core.lock
        process_request = BotocoreStubber.process_request
        dispatch = DomainDispatcherApplication.__call__
        wait_for_messages = Queue.wait_for_messages

        def locked_process_request(stubber: Any, request: Any) -> Any:
            with lock:
                return process_request(stubber, request)

        def locked_dispatch(app: Any, environ: Any, start_response: Any) -> Any:
            with lock:
                return dispatch(app, environ, start_response)

        def unlocked_wait(queue: Any, timeout: int) -> None:
            # Long polling must not hold the lock, or no message could arrive while it waits.
            with lock.released():
                wait_for_messages(queue, timeout)

        self.patcher.set(BotocoreStubber, "process_request", locked_process_request)
        self.patcher.set(DomainDispatcherApplication, "__call__", locked_dispatch)
        self.patcher.set(Queue, "wait_for_messages", unlocked_wait)

    # -- Lambda ---------------------------------------------------------------------------------

    def _lambda_hooks(self) -> None:
        from moto.awslambda.models import LambdaBackend, LambdaFunction

        core = self.core
        init = LambdaFunction.__init__
        backend_invoke = LambdaBackend.invoke
        cfn_create = _classmethod_function(LambdaFunction, "create_from_cloudformation_json")
        cfn_update = _classmethod_function(LambdaFunction, "update_from_cloudformation_json")

        def remember_spec(fn: Any, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
            init(fn, account_id, spec, region, version)
            if not hasattr(fn, "local_cloud_props"):
                fn.local_cloud_props = {k: spec[k] for k in _KEPT_FUNCTION_PROPS if k in spec}

        def invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            # The one place moto runs function code (normally in Docker): run it in-process.
            spec = FunctionSpec.from_moto(fn)
            try:
                outcome = core.runtime.invoke(spec, event if event is not None else {}, source="invoke")
            except FunctionThrottled as exc:
                raise TooManyRequestsException(str(exc)) from exc
            return outcome.payload_json(), outcome.error is not None, outcome.logs

        def invoke(
            backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
        ) -> Any:
            invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
            fn = backend.get_function(function_name, qualifier)
            if invocation_type == "Event":
                event = json.loads(body) if body else {}
                request_id = core.engine.invoke_async(fn.function_arn, event, source="invoke-async")
                # The caller's RequestId is the async invocation's (journal, context, destination records).
                response_headers[_REQUEST_ID_HEADER] = request_id
                response_headers["Content-Length"] = "0"
                return b""
            if invocation_type == "DryRun":
                return b""
            payload = backend_invoke(backend, function_name, qualifier, body, headers, response_headers)
            if "x-amz-function-error" in response_headers:
                response_headers["x-amz-function-error"] = "Unhandled"
            return payload

        def create(
            cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
        ) -> Any:
            props = cloudformation_json["Properties"]
            fn = cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
            fn.local_cloud_props = {k: props[k] for k in _KEPT_FUNCTION_PROPS if k in props}
            if "Architectures" in props:
                fn.architectures = props["Architectures"]
            if "TracingConfig" in props:
                fn.tracing_config = props["TracingConfig"]
            return fn

        def update(
            cls: Any,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            props = dict(cloudformation_json["Properties"])
            layers = props.pop("Layers", None)  # moto rejects layer ARNs it does not host
            code = dict(props.get("Code") or {})
            if isinstance(code.get("ZipFile"), str) and not code.get("S3Bucket"):
                # moto zips inline code on create but not on update
                code["ZipFile"] = base64.b64encode(cls._create_zipfile_from_plaintext_code(code["ZipFile"]))
                props["Code"] = code
            fn = cfn_update(
                cls,
                original_resource,
                new_resource_name,
                {**cloudformation_json, "Properties": props},
                account_id,
                region_name,
            )
            fn.environment_vars = (props.get("Environment") or {}).get("Variables", {})
            fn.reserved_concurrency = props.get("ReservedConcurrentExecutions")
            fn.local_cloud_props = {k: props[k] for k in _KEPT_FUNCTION_PROPS if k in props}
            if layers is not None:
                fn.local_cloud_props["Layers"] = layers
            return fn

        from moto.awslambda.responses import LambdaResponse
        from moto.core.responses import BaseResponse

        enrich = BaseResponse._enrich_response

        def enrich_keeping_request_id(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
            # moto gives every response a random request id; an async invoke keeps its own.
            kept = headers.pop(_REQUEST_ID_HEADER, None)
            headers, body = enrich(headers, body)
            if kept:
                headers["x-amzn-requestid"] = kept
            return headers, body

        self.patcher.set(LambdaResponse, "_enrich_response", staticmethod(enrich_keeping_request_id))
        self.patcher.set(LambdaFunction, "__init__", remember_spec)
        self.patcher.set(LambdaFunction, "_invoke_lambda", invoke_lambda)
        self.patcher.set(LambdaBackend, "invoke", invoke)
        self.patcher.set(LambdaFunction, "create_from_cloudformation_json", classmethod(create))
        self.patcher.set(LambdaFunction, "update_from_cloudformation_json", classmethod(update))

    def _source_hooks(self) -> None:
        """Stop moto's inline event source delivery; the pollers take over."""
        from moto.awslambda.models import LambdaBackend
        from moto.dynamodb.models.table import Table
        from moto.kinesis.models import Stream
        from moto.sqs.models import Queue

        core = self.core
        # moto fills these dicts to deliver inline inside send_message / put_record / put_item
        # (and empties a table's stream once delivered). A property that always reads as an
        # empty dict and ignores writes switches that path off for every instance.
        never = property(lambda self: {}, lambda self, value: None)
        for owner in (Queue, Table, Stream):
            self.patcher.set(owner, "lambda_event_source_mappings", never)

        create_mapping = LambdaBackend.create_event_source_mapping

        def create_event_source_mapping(backend: Any, spec: dict[str, Any]) -> Any:
            esm = create_mapping(backend, spec)
            if (esm.starting_position or "").upper() == "LATEST":
                esm.local_cloud_start = _stream_ends(core, esm.event_source_arn)
            return esm

        self.patcher.set(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)
        self._arrival_hooks()

        from moto.pipes.models import EventBridgePipesBackend as PipesBackend

        create_pipe = PipesBackend.create_pipe

        def create_pipe_remembering_start(backend: Any, *args: Any, **kwargs: Any) -> Any:
            # A LATEST pipe on a stream starts after the records already there, like a mapping.
            pipe = create_pipe(backend, *args, **kwargs)
            source = pipe.source_parameters or {}
            stream = source.get("KinesisStreamParameters") or source.get("DynamoDBStreamParameters") or {}
            if str(stream.get("StartingPosition", "")).upper() == "LATEST":
                pipe.local_cloud_start = _stream_ends(core, pipe.source)
            return pipe

        self.patcher.set(PipesBackend, "create_pipe", create_pipe_remembering_start)

    def _arrival_hooks(self) -> None:
        """Stamp stream records with the local cloud's clock, not the wall clock.

        A record's arrival time decides its tumbling window and its age (MaximumRecordAgeInSeconds),
        and handlers see the virtual clock: a record put after ``advance()`` must arrive after it.
        """
        from datetime import timedelta

        from moto.dynamodb.models.table import StreamRecord
        from moto.kinesis.models import Record

        core = self.core
        record_init = Record.__init__
        stream_record_init = StreamRecord.__init__

        def kinesis_record(record: Any, *args: Any, **kwargs: Any) -> None:
            record_init(record, *args, **kwargs)
            skew = core.engine.skew
            if skew:
                record.created_at_datetime += timedelta(seconds=skew)
                record.created_at += skew

        def dynamodb_record(record: Any, *args: Any, **kwargs: Any) -> None:
            stream_record_init(record, *args, **kwargs)
            skew = core.engine.skew
            if skew:
                record.record["dynamodb"]["ApproximateCreationDateTime"] += timedelta(seconds=skew)

        self.patcher.set(Record, "__init__", kinesis_record)
        self.patcher.set(StreamRecord, "__init__", dynamodb_record)

    # -- SNS, EventBridge, S3 -------------------------------------------------------------------

    def _delivery_hooks(self) -> None:
        import moto.s3.notifications as s3_notifications
        from moto.events.models import Rule
        from moto.firehose.models import FirehoseBackend
        from moto.s3.models import FakeBucket
        from moto.sns.models import Subscription

        core = self.core
        publish = Subscription.publish

        def subscription_publish(subscription: Any, message: str, message_id: str, **kwargs: Any) -> None:
            delivery.sns_publish(core, publish, subscription, message, message_id, **kwargs)

        def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
            if rule.event_pattern.matches_event(original_event):
                delivery.deliver_rule_event(core, rule, dict(original_event))

        def invoke_from_s3(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            bucket = event_body["Records"][0]["s3"]["bucket"]["name"]
            core.engine.invoke_async(fn_arn, event_body, source=f"s3:{bucket}")

        def bucket_permission(bucket: Any, action: str, resource: str) -> Any:
            # moto applies bucket policy statements without their conditions, so CDK's TLS-only
            # statement ("Deny * unless aws:SecureTransport") denies everything; conditional
            # statements cannot be evaluated locally and are left out instead.
            from moto.iam.access_control import IAMPolicy, PermissionResult

            if bucket.policy is None:
                return PermissionResult.NEUTRAL
            document = json.loads(bucket.policy)
            statements = document.get("Statement", [])
            statements = [
                s for s in ([statements] if isinstance(statements, dict) else statements) if "Condition" not in s
            ]
            if not statements:
                return PermissionResult.NEUTRAL
            return IAMPolicy(json.dumps({**document, "Statement": statements})).is_action_permitted(action, resource)

        put_record_batch = FirehoseBackend.put_record_batch

        def firehose_put_record_batch(backend: Any, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
            # Firehose buffers records and writes an object per buffer (firehose.py), not one per call.
            hose = backend.delivery_streams.get(name)
            if hose is not None:
                datas = [r["Data"] if isinstance(r["Data"], bytes) else base64.b64decode(r["Data"]) for r in records]
                try:
                    ids = core.engine.firehose.accept(hose, backend.account_id, backend.region_name, datas)
                except ValueError as exc:  # a stream created through the API with what cannot run locally
                    raise JsonRESTError("InvalidArgumentException", f"the local cloud cannot deliver: {exc}") from exc
                if ids is not None:
                    responses = [{"RecordId": record_id} for record_id in ids]
                    return {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": responses}
            return put_record_batch(backend, name, records)

        self.patcher.set(FirehoseBackend, "put_record_batch", firehose_put_record_batch)
        self.patcher.set(FakeBucket, "get_permission", bucket_permission)
        self.patcher.set(Subscription, "publish", subscription_publish)
        self.patcher.set(Rule, "send_to_targets", send_to_targets)
        self.patcher.set(s3_notifications, "_invoke_awslambda", invoke_from_s3)
        self.patcher.set(s3_notifications, "_get_s3_event", delivery.s3_event)

    def _stepfunctions_hooks(self) -> None:
        import moto.stepfunctions.models as sfn_models
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        from ..stepfunctions import StepFunctionsService

        # State machines created by CloudFormation must land where executions run.
        self.patcher.set(sfn_models, "stepfunctions_backends", stepfunctions_parser_backends)
        # Executions run on the local cloud's interpreter and clock, not moto's.
        self.core.stepfunctions = StepFunctionsService(self.core)
        self.core.stepfunctions.install(self.patcher)


def _stream_ends(core: CloudCore, arn: str) -> dict[str, int]:
    """The last sequence number of every shard now: where a LATEST mapping starts."""
    parts = arn.split(":")
    if parts[2] == "kinesis":
        backend = core.kinesis_backend(parts[4], parts[3])
        stream = next((s for s in backend.streams.values() if s.arn == arn), None)
        if stream is None:
            return {}
        return {shard.shard_id: (max(shard.records) if shard.records else -1) for shard in stream.shards.values()}
    if parts[2] == "dynamodb":
        table = core.stream_table(parts[4], parts[3], arn)
        if table is None or table.stream_shard is None:
            return {}
        items = table.stream_shard.items
        last = int(items[-1].record["dynamodb"]["SequenceNumber"]) if items else -1
        return {table.stream_shard.id: last}
    return {}
