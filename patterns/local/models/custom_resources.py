"""CloudFormation custom resources, run the way the local cloud can run them.

CDK implements several of its own resources as custom resources backed by Node.js Lambda
functions (bucket notifications, log retention, auto-delete objects, bucket deployments,
AwsCustomResource), which cannot run here. Those are carried out natively from their properties.
Other custom resources run their provider in-process when it is Python: a function answering via
``cfnresponse`` (its ResponseURL points at a small local HTTP catcher), or the CDK Provider
framework, whose Node.js onEvent/isComplete wrapper is skipped and the user's Python functions are
called directly. Anything else fails the deployment with the type, logical id and runtime.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.core.common_models import CloudFormationModel

from ..errors import LocalCloudError
from ..guard import SHUTDOWN_POLL_SECONDS
from .base import TypedModel


def _stringify(value: Any) -> Any:
    """CloudFormation passes every scalar of ResourceProperties to providers as a string."""
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class ResponseCatcher:
    """A 127.0.0.1 HTTP endpoint that receives cfnresponse PUTs of custom resource handlers."""

    def __init__(self) -> None:
        self._responses: dict[str, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def url(self, token: str) -> str:
        with self._lock:
            if self._server is None:
                responses = self._responses

                class Handler(BaseHTTPRequestHandler):
                    def do_PUT(self) -> None:
                        length = int(self.headers.get("Content-Length") or 0)
                        body = self.rfile.read(length)
                        responses[self.path.strip("/")] = json.loads(body or b"{}")
                        self.send_response(200)
                        self.send_header("Content-Length", "0")
                        self.end_headers()

                    def log_message(self, *args: Any) -> None:
                        return None

                self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
                threading.Thread(
                    target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="cfn-response-catcher",
                    daemon=True,
                ).start()
            port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/{token}"

    def take(self, token: str) -> dict[str, Any] | None:
        return self._responses.pop(token, None)

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None


def _core() -> Any:
    from ..context import active

    return active()


def _bucket_notifications(request: str, props: Mapping[str, Any], physical: str | None) -> tuple[str, dict[str, Any]]:
    from moto.s3.models import s3_backends

    from ..delivery.targets import apply_bucket_notifications, truthy

    core = _core()
    backend = s3_backends[core.account_id]["aws"]
    managed = truthy(props.get("Managed", True))
    if request == "Delete":
        bucket = backend.buckets.get(props["BucketName"])
        if managed and bucket is not None:
            bucket.set_notification_configuration(None)
    else:
        bucket = backend.get_bucket(props["BucketName"])
        apply_bucket_notifications(bucket, props.get("NotificationConfiguration") or {}, merge=not managed)
    return f"{props['BucketName']}-notifications", {}


def _log_retention(request: str, props: Mapping[str, Any], physical: str | None) -> tuple[str, dict[str, Any]]:
    core = _core()
    name = props["LogGroupName"]
    if request != "Delete":
        logs = core.logs_backend(core.account_id, props.get("LogGroupRegion") or core.region)
        if name not in logs.groups:
            logs.create_log_group(name, {})
        days = props.get("RetentionInDays")
        if days not in (None, "", "Infinity"):
            logs.put_retention_policy(name, int(days))
    return name, {}


def _auto_delete_objects(request: str, props: Mapping[str, Any], physical: str | None) -> tuple[str, dict[str, Any]]:
    from moto.s3.models import s3_backends

    core = _core()
    name = props["BucketName"]
    if request == "Delete":
        backend = s3_backends[core.account_id]["aws"]
        try:
            bucket = backend.get_bucket(name)
        except Exception:  # the bucket is gone already
            return name, {}
        for key in list(bucket.keys.keys()):
            backend.delete_object(name, key)
    return name, {}


def _put_with_content_type(backend: Any, bucket: str, key: str, data: bytes) -> None:
    """Write an object with the Content-Type ``aws s3 sync`` (the deployment's Lambda) guesses from its name:
    a browser only runs a page served as text/html and a script served as JavaScript."""
    import mimetypes

    written = backend.put_object(bucket, key, data)
    guessed, _ = mimetypes.guess_type(key)
    if guessed:
        written.set_metadata({"Content-Type": guessed})


def _bucket_deployment(request: str, props: Mapping[str, Any], physical: str | None) -> tuple[str, dict[str, Any]]:
    """Custom::CDKBucketDeployment: unzip the source assets into the destination bucket."""
    import io
    import zipfile

    from moto.s3.models import s3_backends

    core = _core()
    backend = s3_backends[core.account_id]["aws"]
    destination = props["DestinationBucketName"]
    prefix = (props.get("DestinationBucketKeyPrefix") or "").lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    physical = physical or f"aws.cdk.s3deployment.{uuid.uuid4()}"
    if request == "Delete":
        return physical, {}
    written: set[str] = set()
    for bucket, key in zip(props.get("SourceBucketNames", []), props.get("SourceObjectKeys", []), strict=False):
        data = backend.get_object(bucket, key).value
        extract = str(props.get("Extract", "true")).lower() != "false"
        if not extract:
            _put_with_content_type(backend, destination, prefix + key.split("/")[-1], data)
            written.add(prefix + key.split("/")[-1])
            continue
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for entry in archive.infolist():
                if entry.is_dir():
                    continue
                target = prefix + entry.filename
                _put_with_content_type(backend, destination, target, archive.read(entry))
                written.add(target)
    if str(props.get("Prune", "true")).lower() != "false":
        bucket_obj = backend.get_bucket(destination)
        for existing in list(bucket_obj.keys.keys()):
            if existing.startswith(prefix) and existing not in written:
                backend.delete_object(destination, existing)
    return physical, {
        "DestinationBucketArn": f"arn:aws:s3:::{destination}",
        "SourceObjectKeys": list(props.get("SourceObjectKeys", [])),
    }


def _snake(name: str) -> str:
    name = re.sub(r"Command$", "", name)
    name = name[0].upper() + name[1:]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_SDK_SERVICE_NAMES = {
    "cloudwatchlogs": "logs",
    "cloudwatchevents": "events",
    "eventbridge": "events",
    "stepfunctions": "stepfunctions",
    "sfn": "stepfunctions",
    "dynamodb": "dynamodb",
    "ssm": "ssm",
    "iot": "iot",
    "lambda": "lambda",
}


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _flatten(f"{prefix}.{index}" if prefix else str(index), inner, out)
    else:
        out[prefix] = value if isinstance(value, str) else json.dumps(value, default=str).strip('"')


def _aws_sdk_call(request: str, props: Mapping[str, Any], physical: str | None) -> tuple[str, dict[str, Any]]:
    """Custom::AWS (AwsCustomResource): make the SDK call with boto3."""
    core = _core()
    raw = props.get(request) or (props.get("Create") if request == "Update" else None)
    physical = physical or f"aws-sdk-{uuid.uuid4()}"
    if not raw:
        return physical, {}
    call = json.loads(raw) if isinstance(raw, str) else raw
    service = str(call["service"]).split("/")[-1].replace("client-", "")
    service = _SDK_SERVICE_NAMES.get(service.lower().replace("-", ""), service.lower())
    client = core.client(service)
    method = getattr(client, _snake(call["action"]))
    try:
        with core.lock.released():
            response = method(**(call.get("parameters") or {}))
    except Exception as exc:  # ignoreErrorCodesMatching is part of the AwsSdkCall contract
        pattern = call.get("ignoreErrorCodesMatching")
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        if pattern and re.search(pattern, code):
            response = {}
        else:
            raise
    response.pop("ResponseMetadata", None)
    flat: dict[str, Any] = {}
    _flatten("", response, flat)
    paths = call.get("outputPaths") or ([call["outputPath"]] if call.get("outputPath") else None)
    if paths:
        flat = {k: v for k, v in flat.items() if any(k.startswith(p) for p in paths)}
    resource_id = call.get("physicalResourceId") or {}
    if resource_id.get("id"):
        physical = resource_id["id"]
    elif resource_id.get("responsePath"):
        physical = str(flat.get(resource_id["responsePath"], physical))
    return physical, flat


NATIVE_HANDLERS = {
    "Custom::S3BucketNotifications": _bucket_notifications,
    "Custom::LogRetention": _log_retention,
    "Custom::S3AutoDeleteObjects": _auto_delete_objects,
    "Custom::CDKBucketDeployment": _bucket_deployment,
    "Custom::AWS": _aws_sdk_call,
}


def _invoke_provider(function_ref: str, event: dict[str, Any]) -> Any:
    core = _core()
    return core.invoke(function_ref, event, source="cloudformation")


def _handle(
    request: str,
    resource_type: str,
    logical_id: str,
    stack_id: str,
    props: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    physical: str | None,
) -> tuple[str, dict[str, Any]]:
    """Run one Create / Update / Delete request: natively for the custom resource types CDK itself
    generates, else through the ServiceToken's Lambda function. Returns (physical id, data)."""
    native = NATIVE_HANDLERS.get(resource_type)
    if native is not None:
        return native(request, props, physical)
    core = _core()
    token = props["ServiceToken"]
    spec = core.function_spec(token)
    if spec is None:
        raise LocalCloudError(f"{logical_id} ({resource_type}): its ServiceToken {token} is not a Lambda function")
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "RequestType": request,
        "ServiceToken": token,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": _stringify(dict(props)),
    }
    if old is not None:
        event["OldResourceProperties"] = _stringify(dict(old))
    if physical is not None:
        event["PhysicalResourceId"] = physical
    on_event = spec.env.get("USER_ON_EVENT_FUNCTION_ARN")
    if on_event:
        # CDK Provider framework: its Node.js wrapper only calls the user's functions.
        result = _invoke_provider(on_event, event) or {}
        physical = result.get("PhysicalResourceId") or physical or request_id
        data = dict(result.get("Data") or {})
        is_complete = spec.env.get("USER_IS_COMPLETE_FUNCTION_ARN")
        if is_complete:
            for _ in range(60):
                status = _invoke_provider(is_complete, {**event, "PhysicalResourceId": physical, "Data": data}) or {}
                if status.get("IsComplete"):
                    data.update(status.get("Data") or {})
                    break
                time.sleep(core.engine.delay(5.0))
            else:
                raise LocalCloudError(f"{logical_id} ({resource_type}): isComplete never returned true")
        return str(physical), data
    if not spec.runtime.startswith("python"):
        raise LocalCloudError(
            f"{logical_id} ({resource_type}): its provider {spec.name} runs {spec.runtime}, which the local "
            "cloud cannot run (only Python handlers and the custom resources CDK itself generates)"
        )
    token_id = uuid.uuid4().hex
    event["ResponseURL"] = core.response_catcher.url(token_id)
    outcome = core.runtime.invoke(spec, event, source="cloudformation")
    response = core.response_catcher.take(token_id)
    if response is None:
        detail = (outcome.error or {}).get("errorMessage", "no response was sent to the ResponseURL")
        raise LocalCloudError(f"{logical_id} ({resource_type}) failed: {detail}")
    if response.get("Status") != "SUCCESS":
        raise LocalCloudError(f"{logical_id} ({resource_type}) failed: {response.get('Reason')}")
    return str(response.get("PhysicalResourceId") or physical or request_id), dict(response.get("Data") or {})


class CustomResource(TypedModel, CloudFormationModel):
    """A Custom::* or AWS::CloudFormation::CustomResource resource, created synchronously."""

    CFN_TYPE = "AWS::CloudFormation::CustomResource"

    def __init__(
        self,
        resource_type: str,
        logical_id: str,
        stack_id: str,
        physical_id: str,
        data: dict[str, Any],
        properties: dict[str, Any],
    ) -> None:
        self.resource_type = resource_type
        self.logical_id = logical_id
        self.stack_id = stack_id
        self.physical_id = physical_id
        self.data = data
        self.properties = properties

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.data:
            return self.data[attribute_name]
        raise LocalCloudError(f"{self.logical_id} ({self.resource_type}) returned no attribute {attribute_name}")

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CustomResource:
        props = dict(cloudformation_json.get("Properties") or {})
        resource_type = kwargs.get(
            "ResourceType", cloudformation_json.get("Type", "AWS::CloudFormation::CustomResource")
        )
        logical_id = kwargs.get("LogicalId", resource_name)
        stack_id = kwargs.get("StackId", "")
        physical, data = _handle("Create", resource_type, logical_id, stack_id, props, None, None)
        return cls(resource_type, logical_id, stack_id, physical, data, props)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> CustomResource:
        props = dict(cloudformation_json.get("Properties") or {})
        resource = original_resource
        physical, data = _handle(
            "Update",
            resource.resource_type,
            resource.logical_id,
            resource.stack_id,
            props,
            resource.properties,
            resource.physical_id,
        )
        return cls(resource.resource_type, resource.logical_id, resource.stack_id, physical, data, props)

    def delete(self, account_id: str, region_name: str) -> None:
        _handle("Delete", self.resource_type, self.logical_id, self.stack_id, self.properties, None, self.physical_id)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        return None
