"""Alarms every pattern gets, declared as small maps, with a swappable alarm action.

What is alarmed (DESIGN.md): DLQ depth > 0, age of the oldest message, function errors and
throttles, stream iterator age, state machine failures. An optional topic receives every alarm; an
optional dashboard shows the same metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class AlarmOptions:
    """Thresholds and actions. Defaults: oldest message 5 minutes, iterator age 1 minute, no topic, no dashboard."""

    oldest_message_age: Duration = field(default_factory=lambda: Duration.minutes(5))
    iterator_age: Duration = field(default_factory=lambda: Duration.minutes(1))
    alarm_topic: sns.ITopic | None = None
    dashboard: bool = False


class PatternAlarms(Construct):
    """The alarms of one pattern instance; ``alarms`` maps a stable name to each alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: AlarmOptions | None = None,
        functions: Mapping[str, lambda_.IFunction] | None = None,
        work_queues: Mapping[str, sqs.IQueue] | None = None,
        dead_letter_queues: Mapping[str, sqs.IQueue] | None = None,
        iterator_functions: Mapping[str, lambda_.IFunction] | None = None,
        state_machines: Mapping[str, sfn.IStateMachine] | None = None,
        apis: Mapping[str, apigw.RestApiBase] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.options = options or AlarmOptions()
        self.alarms: dict[str, cw.Alarm] = {}
        period = Duration.minutes(1)
        for name, fn in (functions or {}).items():
            self._add(f"{name}Errors", fn.metric_errors(period=period), 0, "function errors")
            self._add(f"{name}Throttles", fn.metric_throttles(period=period), 0, "function throttles")
        for name, queue in (work_queues or {}).items():
            age = self.options.oldest_message_age.to_seconds()
            metric = queue.metric_approximate_age_of_oldest_message(period=period, statistic="Maximum")
            self._add(f"{name}OldestMessage", metric, age, "oldest message age (s)")
        for name, dlq in (dead_letter_queues or {}).items():
            metric = dlq.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum")
            self._add(f"{name}Depth", metric, 0, "messages in a dead-letter queue")
        for name, fn in (iterator_functions or {}).items():
            metric = fn.metric("IteratorAge", period=period, statistic="Maximum")
            self._add(f"{name}IteratorAge", metric, self.options.iterator_age.to_milliseconds(), "iterator age (ms)")
        for name, machine in (state_machines or {}).items():
            self._add(f"{name}Failed", machine.metric_failed(period=period), 0, "failed executions")
            self._add(f"{name}TimedOut", machine.metric_timed_out(period=period), 0, "timed-out executions")
            self._add(f"{name}Throttled", machine.metric_throttled(period=period), 0, "throttled executions")
        for name, api in (apis or {}).items():
            self._add(f"{name}ServerErrors", api.metric_server_error(period=period), 0, "5XX answers")
        if self.options.dashboard:
            self.dashboard: cw.Dashboard | None = cw.Dashboard(self, "Dashboard")
            self.dashboard.add_widgets(
                *[cw.AlarmWidget(alarm=alarm, title=name, width=8) for name, alarm in self.alarms.items()]
            )
        else:
            self.dashboard = None

    def _add(self, name: str, metric: cw.IMetric, threshold: float, what: str) -> None:
        alarm = cw.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{name}: {what} above {threshold:g}",
        )
        if self.options.alarm_topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(self.options.alarm_topic))
        self.alarms[name] = alarm
