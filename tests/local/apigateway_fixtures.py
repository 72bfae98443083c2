"""Helpers for the front door tests: synthesize a CDK app once and read what functions received.

The APIs are deployed into a :class:`patterns.local.LocalCloud`, whose in-process Lambda runtime
runs the inline handlers and whose front door (``patterns.local.apigateway.FrontDoor``) serves
them on 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from patterns.local import LocalCloud

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

    # Template schema validation (~2 s per synth) is the compliance tests' job, not the front door's.
    app = cdk.App(builtin_cloud_formation_validation=False)
    names = build(app)
    assembly = app.synth()
    return {name: assembly.get_stack_by_name(name).template for name in names}


def new_stack(app: Any, name: str) -> Any:
    """A stack that deploys without a bootstrap (no BootstrapVersion rule)."""
    import aws_cdk as cdk

    return cdk.Stack(app, name, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


def physical_id(cloud: LocalCloud, stack: str, logical_prefix: str, resource_type: str) -> str:
    """The physical id of the resource of a type whose logical id starts with a prefix."""
    resources = cloud.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    for resource in resources:
        if resource["ResourceType"] == resource_type and resource["LogicalResourceId"].startswith(logical_prefix):
            return str(resource["PhysicalResourceId"])
    raise KeyError(f"{resource_type} {logical_prefix}* not in {stack}")


def events(cloud: LocalCloud, stack: str, logical_prefix: str) -> list[dict[str, Any]]:
    """Every event the function (by logical id prefix) was invoked with, oldest first."""
    name = physical_id(cloud, stack, logical_prefix, "AWS::Lambda::Function")
    return [invocation.event for invocation in cloud.invocations(name)]
