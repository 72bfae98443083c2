"""A DriveContext for running a demo's ``drive()`` against the in-process LocalCloud.

``make demo`` drives a LocalCloudServer whose pollers run in the background. In-process, pollers and
asynchronous invokes run only inside ``cloud.drain()``, so this context drains before every check
of ``wait_for``; everything else is the very code ``make demo`` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3

from demo._drive import DriveContext
from patterns.local import DeployedStack, LocalCloud

T = TypeVar("T")


@dataclass
class DrainingDriveContext(DriveContext):
    cloud: LocalCloud | None = None

    def wait_for(self, check: Callable[[], T | None], *, timeout: float = 30, interval: float = 0.2) -> T | None:
        cloud = self.cloud
        assert cloud is not None

        def drained() -> T | None:
            cloud.drain(timeout=max(timeout, 60))
            return check()

        return DriveContext.wait_for(drained, timeout=timeout, interval=interval)


def drive_context(cloud: LocalCloud, stack: DeployedStack, **extra: Any) -> DriveContext:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=cloud.region
    )
    return DrainingDriveContext(
        stack_id=stack.name,
        outputs=dict(stack.outputs),
        session=session,
        cloud=cloud,
        fire_schedule=cloud.fire_schedule,
        **extra,
    )
