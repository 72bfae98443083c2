"""EventBridge Scheduler schedule groups and schedules."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from .base import _LocalModel

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


class SchedulerScheduleGroup(_LocalModel):
    """AWS::Scheduler::ScheduleGroup."""

    CFN_TYPE = "AWS::Scheduler::ScheduleGroup"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerScheduleGroup:
        from moto.scheduler.models import scheduler_backends

        name = props.get("Name", resource_name)
        group = scheduler_backends[account_id][region_name].create_schedule_group(name, props.get("Tags", []))
        return cls(name, {"Arn": group.arn})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.scheduler.models import scheduler_backends

        scheduler_backends[account_id][region_name].delete_schedule_group(resource_name)


class SchedulerSchedule(_LocalModel):
    """AWS::Scheduler::Schedule: stored in moto; ``LocalCloud.fire_schedule`` runs its target."""

    CFN_TYPE = "AWS::Scheduler::Schedule"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerSchedule:
        from moto.scheduler.models import scheduler_backends

        from .events import check_targets

        check_targets(kwargs.get("LogicalId", resource_name), cls.CFN_TYPE, props["Target"])
        name = props.get("Name", resource_name)
        group = props.get("GroupName", "default")
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=props.get("Description", ""),
            end_date=props.get("EndDate"),
            flexible_time_window=props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            group_name=group,
            kms_key_arn=props.get("KmsKeyArn"),
            name=name,
            schedule_expression=props["ScheduleExpression"],
            schedule_expression_timezone=props.get("ScheduleExpressionTimezone"),
            start_date=None,
            state=props.get("State"),
            target=dict(props["Target"]),
            action_after_completion=None,
        )
        model = cls(name, {"Arn": schedule.arn})  # Ref: the schedule's name
        model.properties = props
        model.group = group
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.scheduler.models import scheduler_backends

        with contextlib.suppress(*self.GONE):
            scheduler_backends[account_id][region_name].delete_schedule(self.group, self._physical_id)
