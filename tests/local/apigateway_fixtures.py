"""Helpers for the front door tests: synthesize a CDK app once and read what functions received.

The APIs are deployed into a :class:`patterns.local.LocalCloud`, whose in-process Lambda runtime
runs the inline handlers and whose front door (``patterns.local.frontdoor.apigateway.FrontDoor``) serves
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


PASSWORD = "Real-Passw0rd!"


def user_pool(cloud: LocalCloud, client_name: str, username: str) -> dict[str, str]:
    """A moto Cognito user pool (``id``) with a password-auth app client (``client``) and a confirmed user."""
    idp = cloud.client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName="users")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=client_name,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username=username, TemporaryPassword="Temp-Passw0rd!")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    return {"id": pool_id, "client": client_id}


def sign_in(cloud: LocalCloud, client_id: str, username: str) -> dict[str, Any]:
    """The tokens (IdToken, AccessToken, ...) of a user of a :func:`user_pool`."""
    return cloud.client("cognito-idp").initiate_auth(  # type: ignore[no-any-return]
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


class DeployedStack:
    """A stack (``STACK``) deployed into a running local cloud, with its outputs and user pool."""

    STACK = ""

    def __init__(self, local: LocalCloud, outputs: dict[str, str], pool: dict[str, str]) -> None:
        self.local = local
        self.outputs = outputs
        self.pool = pool

    def events(self, function: str) -> list[dict[str, Any]]:
        return events(self.local, self.STACK, function)

    def client(self, service: str) -> Any:
        return self.local.client(service)
