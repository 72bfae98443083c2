"""Helpers for the front door tests: synthesize a CDK app once, deploy it into moto, run inline code.

The local cloud's Lambda runtime is exercised by its own tests; here functions are written with
``Code.from_inline`` and :class:`InlineLambdas` executes the deployed ``index.py`` from moto's
function zip in-process, so the front door's own behaviour is what these tests pin down.
"""

from __future__ import annotations

import io
import json
import os
import threading
import types
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import boto3

from patterns.local.apigateway import LambdaInvocationError

REGION = "us-east-1"
ACCOUNT = "123456789012"
CDK_ENV = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "NODE_NO_WARNINGS": "1",
    "CDK_DISABLE_VERSION_CHECK": "1",
}


def synthesize(build: Callable[[Any], list[str]]) -> dict[str, dict[str, Any]]:
    """Build stacks with ``build(app)`` (returns stack names) and return their templates."""
    for key, value in CDK_ENV.items():
        os.environ.setdefault(key, value)
    import aws_cdk as cdk

    app = cdk.App()
    names = build(app)
    assembly = app.synth()
    return {name: assembly.get_stack_by_name(name).template for name in names}


def new_stack(app: Any, name: str) -> Any:
    """A stack that deploys without a bootstrap (no BootstrapVersion rule)."""
    import aws_cdk as cdk

    return cdk.Stack(app, name, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


def deploy(template: dict[str, Any], name: str, parameters: dict[str, str] | None = None) -> dict[str, str]:
    """Create the stack in moto's CloudFormation; returns its outputs."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def physical_id(stack: str, logical_prefix: str, resource_type: str) -> str:
    """The physical id of the first resource of a type whose logical id starts with a prefix."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    for resource in cfn.describe_stack_resources(StackName=stack)["StackResources"]:
        if resource["ResourceType"] == resource_type and resource["LogicalResourceId"].startswith(logical_prefix):
            return resource["PhysicalResourceId"]
    raise KeyError(f"{resource_type} {logical_prefix}* not in {stack}")


class InlineLambdas:
    """``invoke`` for the FrontDoor: runs the function's inline ``index.py`` with its environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._modules: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.RLock()

    def __call__(self, function_arn: str, event: dict[str, Any]) -> Any:
        from moto.awslambda.models import lambda_backends

        parts = function_arn.split(":")
        function = lambda_backends[parts[4]][parts[3]].get_function(parts[6])
        module_name, handler_name = function.handler.rsplit(".", 1)
        with self._lock:
            self.calls.append((function.function_name, event))
            key = (function.function_arn, function.code_sha_256)
            if key not in self._modules:
                with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                    source = archive.read(f"{module_name}.py").decode("utf-8")
                namespace: dict[str, Any] = {"__name__": module_name}
                exec(compile(source, f"{function.function_name}/{module_name}.py", "exec"), namespace)
                self._modules[key] = namespace
            handler = self._modules[key][handler_name]
            context = types.SimpleNamespace(
                function_name=function.function_name,
                invoked_function_arn=function.function_arn,
                aws_request_id=str(uuid.uuid4()),
                memory_limit_in_mb=128,
                get_remaining_time_in_millis=lambda: 30000,
            )
            saved = dict(os.environ)
            os.environ.update(function.environment_vars or {})
            try:
                return json.loads(json.dumps(handler(json.loads(json.dumps(event)), context)))
            except Exception as exc:
                raise LambdaInvocationError({"errorMessage": str(exc), "errorType": type(exc).__name__}) from exc
            finally:
                os.environ.clear()
                os.environ.update(saved)

    def events_for(self, name_part: str) -> list[dict[str, Any]]:
        return [event for name, event in self.calls if name_part in name]
