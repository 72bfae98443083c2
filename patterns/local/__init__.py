"""The embedded local cloud: deploy synthesized CDK stacks and run them without AWS or Docker.

moto provides the services; Lambda functions run in-process (Python handlers, each with its own
environment and modules); event sources are polled with AWS semantics; Step Functions run on
moto's interpreter; an HTTP front door serves API Gateway APIs. Two ways in::

    from patterns.local import LocalCloud

    with LocalCloud() as cloud:
        stack = cloud.deploy("cdk.out", "DecoupledMessagingDemo")
        cloud.client("sqs").send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody="{}")
        cloud.drain()
        assert all(i.ok for i in cloud.invocations("Consumer"))

and ``python -m patterns.local serve`` (or ``LocalCloudServer``) for the CDK CLI; another process
drives that server through ``control(endpoint)`` (fire schedules, drain, read the journal).
"""

from __future__ import annotations

from .cloud import LocalCloud, LocalCloudServer
from .control_plane import ControlClient, control
from .delivery.engine import Settings
from .deploy import DeployedResource, DeployedStack
from .errors import DeployError, DrainTimeout, FunctionError, LocalCloudError, UnsupportedResourceError
from .runtime import Invocation

__all__ = [
    "ControlClient",
    "DeployError",
    "DeployedResource",
    "DeployedStack",
    "DrainTimeout",
    "FunctionError",
    "Invocation",
    "LocalCloud",
    "LocalCloudError",
    "LocalCloudServer",
    "Settings",
    "UnsupportedResourceError",
    "control",
]
