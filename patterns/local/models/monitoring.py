"""CloudWatch alarms and Logs metric filters (stored, not evaluated)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import _LocalModel

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


class CloudWatchAlarm(_LocalModel):
    """AWS::CloudWatch::Alarm: stored in moto's CloudWatch (alarms are not evaluated locally)."""

    CFN_TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CloudWatchAlarm:
        from moto.cloudwatch.models import MetricDataQuery, cloudwatch_backends

        queries = None
        if props.get("Metrics"):
            queries = [
                MetricDataQuery(
                    query_id=m.get("Id"),
                    label=m.get("Label"),
                    period=m.get("Period"),
                    return_data=m.get("ReturnData"),
                    expression=m.get("Expression"),
                    metric_stat=m.get("MetricStat"),
                )
                for m in props["Metrics"]
            ]
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=resource_name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props.get("ComparisonOperator"),
            evaluation_periods=int(props.get("EvaluationPeriods", 1)),
            period=int(props.get("Period", 60)) if props.get("Period") else None,
            threshold=float(props["Threshold"]) if "Threshold" in props else None,
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions", [])],
            alarm_actions=props.get("AlarmActions", []),
            metric_data_queries=queries,
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            extended_statistic=props.get("ExtendedStatistic"),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=props.get("TreatMissingData"),
            threshold_metric_id=props.get("ThresholdMetricId"),
        )
        return cls(resource_name, {"Arn": alarm.alarm_arn})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    def delete(self, account_id: str, region_name: str) -> None:
        self.delete_from_cloudformation_json(self._physical_id, {}, account_id, region_name)


class LogsMetricFilter(_LocalModel):
    """AWS::Logs::MetricFilter (stored; metrics are not computed locally)."""

    CFN_TYPE = "AWS::Logs::MetricFilter"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LogsMetricFilter:
        from moto.logs.models import logs_backends

        name = props.get("FilterName", resource_name)
        logs_backends[account_id][region_name].put_metric_filter(
            name, props.get("FilterPattern", ""), props["LogGroupName"], props.get("MetricTransformations", [])
        )
        return cls(name)
