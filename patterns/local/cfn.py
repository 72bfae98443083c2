"""CloudFormation in moto, made strict and complete enough for CDK templates.

moto skips resource types it has no model for (a log warning, and the stack still says
CREATE_COMPLETE), drops ``Fn::GetAtt`` attributes it does not know, loses resources whose model
cannot update, and fails on two update paths the CDK CLI uses. Here:

- every resource type of a template must be supported (a model below, a moto model, a custom
  resource, or one of the few INERT types), else the stack fails naming the logical id and type;
- models are added for the types CDK stacks need and moto lacks;
- updates of models without an update method replace (or, for stateful types, keep) the resource;
- ``UsePreviousValue`` for a parameter that was never passed, and DeleteChangeSet of an unknown
  change set, no longer crash.
"""

from __future__ import annotations

import contextlib
import json
import traceback
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from moto.core.common_models import CloudFormationModel

from .errors import LocalCloudError, UnsupportedResourceError

if TYPE_CHECKING:
    from .core import CloudCore
    from .hooks import Patcher

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)
INERT_TYPES = frozenset(
    {
        "AWS::CDK::Metadata",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::XRay::Group",
        "AWS::XRay::SamplingRule",
        "AWS::CloudWatch::CompositeAlarm",
        "AWS::CloudWatch::AnomalyDetector",
        "AWS::Logs::QueryDefinition",
        "AWS::Lambda::CodeSigningConfig",
        "AWS::Events::EventBusPolicy",
    }
)

#: moto's own models the local cloud accepts: types whose Ref / GetAtt the contract test checks
#: (tests/local/test_cfn_contract.py) and whose resources the local cloud runs or needs for wiring.
#: moto has models for many more (EC2, RDS, ECS, ...): deploying them would succeed and run
#: nothing, so they fail at deploy instead, naming the resource.
ACCEPTED_MOTO_TYPES = frozenset(
    {
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::RestApi",
        "AWS::CloudWatch::Dashboard",
        "AWS::ECR::Repository",  # in the CDK bootstrap stack (container assets are not run locally)
        "AWS::Events::Archive",
        "AWS::Events::Rule",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::KMS::Alias",
        "AWS::KMS::Key",
        "AWS::Kinesis::Stream",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Version",
        "AWS::Logs::LogGroup",
        "AWS::Logs::ResourcePolicy",
    }
)

#: moto models whose resources carry state: on a template change they are kept, never replaced.
_KEEP_ON_UPDATE = frozenset({"AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup"})

_CUSTOM_TYPES = ("Custom::", "AWS::CloudFormation::CustomResource")


def _policy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _cfn_error(message: str) -> LocalCloudError:
    return LocalCloudError(message)


class TypedModel:
    """The type half of moto's CloudFormationModel protocol, from class attributes.

    ``CFN_TYPE`` is the resource type; ``NAME_PROPERTY`` the property that names the physical
    resource ("" where there is none: moto then generates no name).
    """

    CFN_TYPE: ClassVar[str] = ""
    NAME_PROPERTY: ClassVar[str] = ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY


class _LocalModel(TypedModel, CloudFormationModel):
    """Base of the models the local cloud adds: a physical id and a dict of GetAtt attributes.

    Subclasses set ``CFN_TYPE`` (and ``NAME_PROPERTY``), implement ``_create`` from the resource's
    properties and, where deleting does anything, ``_delete``; ``GONE`` lists what a delete may
    raise for a resource that is gone already (ignored).
    """

    GONE: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, physical_id: str, attributes: Mapping[str, Any] | None = None) -> None:
        self._physical_id = physical_id
        self.attributes = dict(attributes or {})

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise _cfn_error(f"{self.cloudformation_type()} has no attribute {attribute_name} locally")

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        cls.delete_from_cloudformation_json(
            original_resource.physical_resource_id,
            {"Properties": getattr(original_resource, "properties", {})},
            account_id,
            region_name,
        )
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        return cls._create(resource_name, cloudformation_json["Properties"], account_id, region_name, **kwargs)

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        with contextlib.suppress(*cls.GONE):
            cls._delete(resource_name, account_id, region_name)

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        return None


class InertResource(_LocalModel):
    """A resource of an INERT type: it exists for Ref / GetAtt, and does nothing."""

    CFN_TYPE = "LocalCloud::Inert"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> InertResource:
        from .models.inert import SHAPES

        shape = SHAPES[kwargs.get("ResourceType", "AWS::CDK::Metadata")]
        props = cloudformation_json.get("Properties") or {}
        physical, attributes = shape(resource_name, account_id, region_name, props)
        resource = cls(physical, attributes)
        resource.resource_type = kwargs.get("ResourceType", "")
        return resource

    def cloudformation_type(self) -> str:  # type: ignore[override]
        return getattr(self, "resource_type", self.CFN_TYPE)


class SnsSubscription(_LocalModel):
    """AWS::SNS::Subscription with filter policy (and scope), raw delivery and redrive policy."""

    CFN_TYPE = "AWS::SNS::Subscription"

    def __init__(self, arn: str, account_id: str, region: str, properties: Mapping[str, Any]) -> None:
        super().__init__(arn, {"Arn": arn})
        self.account_id, self.region, self.properties = account_id, region, dict(properties)

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SnsSubscription:
        from moto.sns.models import sns_backends

        topic_arn = props["TopicArn"]
        backend = sns_backends[topic_arn.split(":")[4]][topic_arn.split(":")[3]]
        subscription = backend.subscribe(topic_arn, props["Endpoint"], props["Protocol"])
        if "FilterPolicyScope" in props:
            backend.set_subscription_attributes(subscription.arn, "FilterPolicyScope", props["FilterPolicyScope"])
        if props.get("FilterPolicy"):
            backend.set_subscription_attributes(subscription.arn, "FilterPolicy", _policy_text(props["FilterPolicy"]))
        if "RawMessageDelivery" in props:
            raw = str(props["RawMessageDelivery"]).lower()
            backend.set_subscription_attributes(subscription.arn, "RawMessageDelivery", raw)
        if props.get("RedrivePolicy"):
            backend.set_subscription_attributes(subscription.arn, "RedrivePolicy", _policy_text(props["RedrivePolicy"]))
        if props.get("DeliveryPolicy"):
            backend.set_subscription_attributes(
                subscription.arn, "DeliveryPolicy", _policy_text(props["DeliveryPolicy"])
            )
        return cls(subscription.arn, account_id, region_name, props)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sns.models import sns_backends

        arn = self._physical_id
        sns_backends[arn.split(":")[4]][arn.split(":")[3]].unsubscribe(arn)

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.sns.models import sns_backends

        sns_backends[resource_name.split(":")[4]][resource_name.split(":")[3]].unsubscribe(resource_name)


class SqsQueuePolicy(_LocalModel):
    """AWS::SQS::QueuePolicy: sets the Policy attribute of each queue (not enforced locally)."""

    CFN_TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SqsQueuePolicy:
        from moto.sqs.models import sqs_backends

        for url in props.get("Queues", []):
            name = url.rstrip("/").split("/")[-1]
            sqs_backends[account_id][region_name].set_queue_attributes(
                name, {"Policy": _policy_text(props["PolicyDocument"])}
            )
        model = cls(resource_name, {"Id": resource_name})  # Id: the physical id, as documented
        model.properties = props
        return model


class SnsTopicPolicy(_LocalModel):
    """AWS::SNS::TopicPolicy: sets each topic's policy (not enforced locally)."""

    CFN_TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SnsTopicPolicy:
        from moto.sns.models import sns_backends

        for arn in props.get("Topics", []):
            sns_backends[account_id][region_name].set_topic_attribute(
                arn, "Policy", _policy_text(props["PolicyDocument"])
            )
        return cls(resource_name, {"Id": resource_name})  # Id: the physical id, as documented


class S3BucketPolicy(_LocalModel):
    """AWS::S3::BucketPolicy (the CDK bootstrap stack has one)."""

    CFN_TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> S3BucketPolicy:
        from moto.s3.models import s3_backends

        s3_backends[account_id]["aws"].put_bucket_policy(
            props["Bucket"], _policy_text(props["PolicyDocument"]).encode()
        )
        return cls(resource_name)


class LambdaEventInvokeConfig(_LocalModel):
    """AWS::Lambda::EventInvokeConfig: retries, max event age and destinations of async invokes."""

    CFN_TYPE = "AWS::Lambda::EventInvokeConfig"
    GONE = (Exception,)  # the function is gone already

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LambdaEventInvokeConfig:
        from moto.awslambda.utils import get_backend

        config = {
            k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig") if k in props
        }
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                config[key] = int(config[key])
        backend = get_backend(account_id, region_name)
        fn = backend.get_function(props["FunctionName"])
        fn.event_invoke_config = []
        backend.put_function_event_invoke_config(props["FunctionName"], config)
        model = cls(f"{fn.function_name}:{props.get('Qualifier', '$LATEST')}")
        model.properties = props
        return model

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.awslambda.utils import get_backend

        get_backend(account_id, region_name).get_function(resource_name.split(":")[0]).event_invoke_config = []


class LambdaAlias(_LocalModel):
    """AWS::Lambda::Alias."""

    CFN_TYPE = "AWS::Lambda::Alias"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> LambdaAlias:
        from moto.awslambda.utils import get_backend

        backend = get_backend(account_id, region_name)
        fn = backend.get_function(props["FunctionName"])
        alias = backend.create_alias(
            props["Name"],
            fn.function_name,
            str(props["FunctionVersion"]),
            props.get("Description", ""),
            props.get("RoutingConfig"),
        )
        return cls(alias.arn, {"AliasArn": alias.arn})


class LambdaUrl(_LocalModel):
    """AWS::Lambda::Url: the URL config exists; calling it needs the front door (not served here)."""

    CFN_TYPE = "AWS::Lambda::Url"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> LambdaUrl:
        from moto.awslambda.utils import get_backend

        props = dict(props)
        target = props.pop("TargetFunctionArn")
        props.pop("Qualifier", None)
        backend = get_backend(account_id, region_name)
        config = backend.create_function_url_config(target, props)
        url = config.to_dict()["FunctionUrl"]
        return cls(target, {"FunctionUrl": url, "FunctionArn": config.function.function_arn})


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

        from .models.events import check_targets

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


class FirehoseDeliveryStream(_LocalModel):
    """AWS::KinesisFirehose::DeliveryStream (S3 destinations; a Kinesis source is polled locally).

    Delivery (buffering hints, prefixes, GZIP, Lambda processing) is firehose.py's; a configuration
    it cannot run fails here, at deploy.
    """

    CFN_TYPE = "AWS::KinesisFirehose::DeliveryStream"
    NAME_PROPERTY = "DeliveryStreamName"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> FirehoseDeliveryStream:
        from moto.firehose.models import firehose_backends

        from .firehose import check_config

        name = props.get("DeliveryStreamName", resource_name)[:64]
        destinations = [key for key in props if key.endswith("DestinationConfiguration")]
        for key in destinations:
            if key not in ("S3DestinationConfiguration", "ExtendedS3DestinationConfiguration"):
                raise _cfn_error(f"{cls.CFN_TYPE} {resource_name}: {key} is not supported by the local cloud (S3 only)")
            try:
                check_config(props[key], extended=key.startswith("Extended"))
            except ValueError as exc:
                raise _cfn_error(f"{cls.CFN_TYPE} {resource_name}: {key}: {exc}") from exc
        backend = firehose_backends[account_id][region_name]
        backend.create_delivery_stream(
            region=region_name,
            delivery_stream_name=name,
            delivery_stream_type=props.get("DeliveryStreamType", "DirectPut"),
            kinesis_stream_source_configuration=props.get("KinesisStreamSourceConfiguration"),
            delivery_stream_encryption_configuration_input=props.get("DeliveryStreamEncryptionConfigurationInput"),
            s3_destination_configuration=props.get("S3DestinationConfiguration"),
            extended_s3_destination_configuration=props.get("ExtendedS3DestinationConfiguration"),
            redshift_destination_configuration=props.get("RedshiftDestinationConfiguration"),
            elasticsearch_destination_configuration=props.get("ElasticsearchDestinationConfiguration"),
            splunk_destination_configuration=props.get("SplunkDestinationConfiguration"),
            http_endpoint_destination_configuration=props.get("HttpEndpointDestinationConfiguration"),
            snowflake_destination_configuration=props.get("SnowflakeDestinationConfiguration"),
            iceberg_destination_configuration=props.get("IcebergDestinationConfiguration"),
            tags=props.get("Tags", []),
        )
        arn = backend.delivery_streams[name].delivery_stream_arn
        return cls(name, {"Arn": arn})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.firehose.models import firehose_backends

        firehose_backends[account_id][region_name].delete_delivery_stream(resource_name)


class PipesPipe(_LocalModel):
    """AWS::Pipes::Pipe (SQS, Kinesis and DynamoDB stream sources, polled locally; see pipes.py)."""

    CFN_TYPE = "AWS::Pipes::Pipe"
    NAME_PROPERTY = "Name"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> PipesPipe:
        from moto.pipes.models import pipes_backends

        from . import pipes
        from .core import active

        front_door = bool(getattr(active(), "front_door_url", None))
        pipes.check(kwargs.get("LogicalId", resource_name), props, front_door=front_door)
        name = props.get("Name", resource_name)[:64]
        pipe = pipes_backends[account_id][region_name].create_pipe(
            name=name,
            description=props.get("Description"),
            desired_state=props.get("DesiredState"),
            source=props["Source"],
            source_parameters=props.get("SourceParameters"),
            enrichment=props.get("Enrichment"),
            enrichment_parameters=props.get("EnrichmentParameters"),
            target=props["Target"],
            target_parameters=props.get("TargetParameters"),
            role_arn=props["RoleArn"],
            tags=props.get("Tags"),
            log_configuration=props.get("LogConfiguration"),
            kms_key_identifier=props.get("KmsKeyIdentifier"),
        )
        return cls(name, {"Arn": pipe.arn})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.pipes.models import pipes_backends

        pipes_backends[account_id][region_name].delete_pipe(resource_name)


class DynamoDbGlobalTable(_LocalModel):
    """AWS::DynamoDB::GlobalTable (CDK's TableV2), as a table in the deployment region."""

    CFN_TYPE = "AWS::DynamoDB::GlobalTable"
    NAME_PROPERTY = "TableName"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        from moto.dynamodb.models import Table

        replica = next((r for r in props.get("Replicas", []) if r.get("Region") == region_name), {})
        table_props: dict[str, Any] = {
            k: props[k]
            for k in (
                "KeySchema",
                "AttributeDefinitions",
                "LocalSecondaryIndexes",
                "StreamSpecification",
                "SSESpecification",
                "TimeToLiveSpecification",
            )
            if k in props
        }
        table_props["BillingMode"] = props.get("BillingMode", "PAY_PER_REQUEST")
        table_props["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props.get("GlobalSecondaryIndexes", [])
        ]
        if "DeletionProtectionEnabled" in replica:
            table_props["DeletionProtectionEnabled"] = replica["DeletionProtectionEnabled"]
        if replica.get("Tags"):
            table_props["Tags"] = replica["Tags"]
        table = Table.create_from_cloudformation_json(
            resource_name, {"Properties": table_props}, account_id, region_name
        )
        _apply_ttl(table, props.get("TimeToLiveSpecification"), account_id, region_name)
        return table

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        _update_table(original_resource, cloudformation_json["Properties"], account_id, region_name)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends[account_id][region_name].delete_table(resource_name)


def _apply_ttl(table: Any, spec: Mapping[str, Any] | None, account_id: str, region_name: str) -> None:
    if spec and str(spec.get("Enabled", "")).lower() == "true":
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends[account_id][region_name].update_time_to_live(
            table.name, {"Enabled": True, "AttributeName": spec["AttributeName"]}
        )


def _update_table(table: Any, props: Mapping[str, Any], account_id: str, region_name: str) -> None:
    """In-place table update: streams and TTL are what CDK changes between deploys."""
    streams = props.get("StreamSpecification")
    if streams and not (table.stream_specification or {}).get("StreamEnabled"):
        spec = {"StreamEnabled": True, "StreamViewType": streams["StreamViewType"]}
        table.set_stream_specification(spec)
    _apply_ttl(table, props.get("TimeToLiveSpecification"), account_id, region_name)


class StateMachineModel(TypedModel):
    """AWS::StepFunctions::StateMachine on moto's executing (ASL interpreter) backend.

    moto's own model reads only DefinitionString; CDK may also emit Definition (an object) and
    DefinitionSubstitutions. (Not a CloudFormationModel: moto's type must keep its own model registered.)
    """

    CFN_TYPE = "AWS::StepFunctions::StateMachine"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name", "StateMachineRevisionId")

    @staticmethod
    def _definition(props: Mapping[str, Any]) -> str:
        definition = props.get("DefinitionString")
        if definition is None and "Definition" in props:
            definition = json.dumps(props["Definition"])
        definition = definition or "{}"
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        return definition

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        props = cloudformation_json["Properties"]
        name = props.get("StateMachineName", resource_name)
        tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])]
        return stepfunctions_parser_backends[account_id][region_name].create_state_machine(
            name,
            cls._definition(props),
            props.get("RoleArn", f"arn:aws:iam::{account_id}:role/local-cloud"),
            tags=tags,
            loggingConfiguration=props.get("LoggingConfiguration"),
            tracingConfiguration=props.get("TracingConfiguration"),
            sm_type=props.get("StateMachineType", "STANDARD"),
        )

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        props = cloudformation_json["Properties"]
        backend = stepfunctions_parser_backends[account_id][region_name]
        name = props.get("StateMachineName", original_resource.name)
        if name != original_resource.name:
            backend.delete_state_machine(original_resource.arn)
            return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
        return backend.update_state_machine(
            original_resource.arn, definition=cls._definition(props), role_arn=props.get("RoleArn")
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        stepfunctions_parser_backends[account_id][region_name].delete_state_machine(resource_name)


def _sns_topic_model() -> type:
    from moto.sns.models import Topic, sns_backends

    class TopicUpdatedInPlace(Topic):  # type: ignore[misc]
        """moto replaces a topic on any change, deleting its subscriptions; update in place."""

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            props = cloudformation_json["Properties"]
            if props.get("TopicName", original_resource.name) != original_resource.name:
                return super().update_from_cloudformation_json(
                    original_resource, new_resource_name, cloudformation_json, account_id, region_name
                )
            backend = sns_backends[account_id][region_name]
            for attribute, prop in (("DisplayName", "DisplayName"), ("KmsMasterKeyId", "KmsMasterKeyId")):
                if prop in props:
                    backend.set_topic_attribute(original_resource.arn, attribute, props[prop])
            return original_resource

    return TopicUpdatedInPlace


def _s3_bucket_model() -> type:
    from moto.s3.models import FakeBucket, s3_backends

    from .delivery import apply_bucket_notifications

    def configure(bucket: Any, props: Mapping[str, Any], account_id: str) -> None:
        backend = s3_backends[account_id]["aws"]
        versioning = (props.get("VersioningConfiguration") or {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        if "NotificationConfiguration" in props:
            apply_bucket_notifications(bucket, props["NotificationConfiguration"] or {})

    class BucketWithNotifications(FakeBucket):  # type: ignore[misc]
        """moto's bucket model ignores NotificationConfiguration and VersioningConfiguration."""

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            bucket = FakeBucket.create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            configure(bucket, cloudformation_json.get("Properties", {}), account_id)
            return bucket

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            bucket = FakeBucket.update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
            configure(bucket, cloudformation_json.get("Properties", {}), account_id)
            return bucket

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            # moto silently keeps a bucket that still has objects; fail like CloudFormation, so the
            # stack deletion retries it after the auto-delete custom resource emptied it.
            backend = s3_backends[account_id]["aws"]
            if resource_name in backend.buckets and backend.buckets[resource_name].keys:
                raise LocalCloudError(f"bucket {resource_name} is not empty")
            FakeBucket.delete_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)

    return BucketWithNotifications


def _sqs_queue_model() -> type:
    from moto.sqs.models import Queue, sqs_backends

    class FifoAwareQueue(Queue):  # type: ignore[misc]
        """CloudFormation ends generated FIFO queue names in .fifo (moto does not) and updates in place."""

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            props = cloudformation_json["Properties"]
            fifo = str(props.get("FifoQueue", "")).lower() == "true"
            if fifo and "QueueName" not in props and not resource_name.endswith(".fifo"):
                resource_name = f"{resource_name[:75]}.fifo"
            return Queue.create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            props = cloudformation_json["Properties"]
            attributes = {
                key: (json.dumps(props[key]) if isinstance(props[key], dict) else str(props[key]))
                for key in (
                    "VisibilityTimeout",
                    "ReceiveMessageWaitTimeSeconds",
                    "DelaySeconds",
                    "MessageRetentionPeriod",
                    "MaximumMessageSize",
                    "RedrivePolicy",
                )
                if key in props
            }
            if attributes:
                sqs_backends[account_id][region_name].set_queue_attributes(original_resource.name, attributes)
            return original_resource

    return FifoAwareQueue


def _dynamodb_table_model() -> type:
    from moto.dynamodb.models import Table

    class TableWithTtl(Table):  # type: ignore[misc]
        """moto's table model ignores TimeToLiveSpecification and cannot update."""

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            table = Table.create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            _apply_ttl(table, cloudformation_json["Properties"].get("TimeToLiveSpecification"), account_id, region_name)
            return table

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            _update_table(original_resource, cloudformation_json["Properties"], account_id, region_name)
            return original_resource

    return TableWithTtl


#: Models the local cloud adds (new types, direct CloudFormationModel subclasses).
NEW_MODELS: tuple[type[_LocalModel], ...] = (
    SnsSubscription,
    SqsQueuePolicy,
    SnsTopicPolicy,
    S3BucketPolicy,
    LambdaEventInvokeConfig,
    LambdaAlias,
    LambdaUrl,
    CloudWatchAlarm,
    LogsMetricFilter,
    DynamoDbGlobalTable,
    SchedulerScheduleGroup,
    SchedulerSchedule,
    FirehoseDeliveryStream,
    PipesPipe,
)


def local_models() -> dict[str, type]:
    """Every model the local cloud provides, by resource type (overrides of moto included)."""
    from .custom_resources import CustomResource
    from .models import MODELS
    from .models.events import rule_model
    from .models.kms import key_model

    models: dict[str, type] = {model.cloudformation_type(): model for model in (*NEW_MODELS, *MODELS)}
    models["AWS::StepFunctions::StateMachine"] = StateMachineModel
    models["AWS::SNS::Topic"] = _sns_topic_model()
    models["AWS::S3::Bucket"] = _s3_bucket_model()
    models["AWS::DynamoDB::Table"] = _dynamodb_table_model()
    models["AWS::SQS::Queue"] = _sqs_queue_model()
    models["AWS::KMS::Key"] = key_model()
    models["AWS::Events::Rule"] = rule_model()
    models["AWS::CloudFormation::CustomResource"] = CustomResource
    return models


def clear_model_caches() -> None:
    from moto.cloudformation import parsing

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def supported_types() -> set[str]:
    """Resource types a template may use (custom resource types aside)."""
    from moto.cloudformation.parsing import get_model_map

    package = __package__ or "patterns"
    own = {t for t, model in get_model_map().items() if "::" in t and model.__module__.startswith(package)}
    moto_types = set(get_model_map()) & ACCEPTED_MOTO_TYPES
    return moto_types | own | set(local_models()) | set(INERT_TYPES)


def _is_custom(resource_type: str) -> bool:
    return resource_type.startswith(_CUSTOM_TYPES)


def _condition_true(condition_map: Any, condition: str | None) -> bool:
    if not condition:
        return True
    try:
        return bool(condition_map[condition])
    except KeyError:
        return True


def check_template(template: Mapping[str, Any], condition_map: Any) -> None:
    """Strict mode: raise UnsupportedResourceError naming every resource the cloud cannot create."""
    supported = supported_types()
    problems = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not _condition_true(condition_map, resource.get("Condition")):
            continue
        resource_type = resource.get("Type", "")
        if resource_type not in supported and not _is_custom(resource_type):
            problems.append((logical_id, resource_type))
    if problems:
        raise UnsupportedResourceError(problems)


def check_nothing_skipped(template: Mapping[str, Any], resource_map: Any) -> None:
    """moto may still have skipped a resource (a model returning None): that is an error too."""
    missing = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not _condition_true(resource_map.lazy_condition_map, resource.get("Condition")):
            continue
        if resource_map._parsed_resources.get(logical_id) is None:
            missing.append((logical_id, resource.get("Type", "")))
    if missing:
        raise UnsupportedResourceError(missing)


def creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids in an order where every resource comes after what it references."""
    import re

    def references(node: Any, found: set[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and isinstance(value, str):
                    found.add(value)
                elif key == "Fn::GetAtt":
                    found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
                elif key == "Fn::Sub":
                    template = value[0] if isinstance(value, list) else value
                    found.update(re.findall(r"\$\{([^}!.]+)", str(template)))
                    references(value, found)
                else:
                    references(value, found)
        elif isinstance(node, list):
            for item in node:
                references(item, found)

    needs: dict[str, set[str]] = {}
    for name, resource in resources.items():
        found: set[str] = set()
        references(resource.get("Properties", {}), found)
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        needs[name] = {n for n in found if n in resources and n != name}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for need in sorted(needs[name]):
            visit(need)
        visiting.discard(name)
        order.append(name)

    for name in resources:
        visit(name)
    return order


def _fail(stack: Any, status: str, exc: Exception) -> None:
    from moto.cloudformation.models import Event

    reason = str(exc) if isinstance(exc, LocalCloudError) else f"{type(exc).__name__}: {exc}"
    stack.status = status
    stack.local_cloud_failure = status
    stack.stack_status_reason = reason
    stack.status_reason = reason
    problems = getattr(exc, "problems", None) or [(stack.name, "AWS::CloudFormation::Stack")]
    for logical_id, resource_type in problems:
        stack.events.append(
            Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=logical_id,
                physical_resource_id="",
                resource_type=resource_type,
                resource_status=status,
                resource_status_reason=reason,
                resource_properties=None,
            )
        )
    stack._add_stack_event(status, resource_status_reason=reason)


def install(core: CloudCore, patcher: Patcher) -> None:
    """Install the models and CloudFormation fixes of the local cloud."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import (
        CloudFormationError,
        UnformattedGetAttTemplateException,
        ValidationError,
    )
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack

    class ChangeSetNotFound(CloudFormationError):
        code = "ChangeSetNotFound"

        def __init__(self, name: str) -> None:
            super().__init__(f"ChangeSet [{name}] does not exist")

    from .custom_resources import CustomResource
    from .models import dynamic, moto_attributes, names

    clear_model_caches()
    models = local_models()
    resource_class_from_type = parsing.resource_class_from_type
    clean_json = parsing.clean_json
    parse_and_update_resource = parsing.parse_and_update_resource
    parse_and_create_resource = parsing.parse_and_create_resource

    def class_from_type(resource_type: str) -> Any:
        if resource_type in models:
            return models[resource_type]
        if resource_type in INERT_TYPES:
            return InertResource
        if _is_custom(resource_type):
            return CustomResource
        return resource_class_from_type(resource_type)

    def strict_clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Ref"), str):
            check_ref(resource_json["Ref"], resources_map)
        cleaned = _strict_clean_json(resource_json, resources_map)
        if isinstance(cleaned, str) and "{{resolve:" in cleaned and hasattr(resources_map, "_account_id"):
            return dynamic.resolve(cleaned, resources_map._account_id, resources_map._region_name)
        return cleaned

    def check_ref(name: str, resources_map: Any) -> None:
        # moto's Ref falls back to the model object itself when it has no physical id; the next
        # string operation on it then fails deep inside moto. Name the resource instead.
        json_map = getattr(resources_map, "_resource_json_map", None)  # conditions pass a plain dict
        if json_map is None or name.startswith("AWS::") or name not in json_map:
            return
        resource = resources_map[name]
        if resource is None or isinstance(resource, (str, int, float, list, dict)):
            return
        physical = getattr(resource, "physical_resource_id", None)
        if not isinstance(physical, str) or not physical:
            resource_type = json_map[name].get("Type", "")
            raise LocalCloudError(f"{name} ({resource_type}): Ref has no physical id in the local cloud")

    def _strict_clean_json(resource_json: Any, resources_map: Any) -> Any:
        # moto logs and drops a Fn::GetAtt attribute it does not implement; fail instead.
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Fn::GetAtt"), list):
            name, attribute = resource_json["Fn::GetAtt"][0], resource_json["Fn::GetAtt"][1]
            resource = resources_map.get(name)
            if resource is not None and not isinstance(resource, (str, list, dict)):
                try:
                    return resource.get_cfn_attribute(attribute)
                except NotImplementedError as exc:
                    raise LocalCloudError(f"Fn::GetAtt {name}.{attribute} is not supported by the local cloud") from exc
                except UnformattedGetAttTemplateException:
                    pass
        return clean_json(resource_json, resources_map)

    def update_resource(
        logical_id: str, resource_json: Any, resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        resource_type = resource_json["Type"]
        resource_class = class_from_type(resource_type)
        if not hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__"):
            return parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
        original = resources_map._parsed_resources.get(logical_id)
        if resource_type in _KEEP_ON_UPDATE and original is not None:
            return original
        # No update in moto: replace, the way CloudFormation replaces immutable resources.
        if original is not None:
            with contextlib.suppress(Exception):  # the old physical resource may be gone already
                resources_map._delete_resource(
                    original, resources_map._resource_json_map.get(logical_id, resource_json)
                )
        return parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name)

    create_resources = Stack.create_resources
    stack_update = Stack.update

    def strict_create_resources(stack: Any) -> None:
        stack.local_cloud_failure = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check_template(stack.template_dict, stack.resource_map.lazy_condition_map)
                create_resources(stack)
                check_nothing_skipped(stack.template_dict, stack.resource_map)
                _ = stack.outputs  # moto resolves outputs lazily: a bad one must fail the deploy
        except Exception as exc:  # any failure is the stack's CREATE_FAILED, as in CloudFormation
            _fail(stack, "CREATE_FAILED", exc)
            core.delivery_errors.append(f"stack {stack.name}: {traceback.format_exc()}")

    def strict_update(
        stack: Any, template: str, role_arn: str | None = None, parameters: Any = None, tags: Any = None
    ) -> None:
        stack.local_cloud_failure = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = stack.parse_template(template)
                check_template(parsed, stack.resource_map.lazy_condition_map)
                stack_update(stack, template, role_arn, parameters, tags)
                check_nothing_skipped(stack.template_dict, stack.resource_map)
                _ = stack.outputs
        except Exception as exc:  # any failure is the stack's UPDATE_FAILED
            _fail(stack, "UPDATE_FAILED", exc)
            core.delivery_errors.append(f"stack {stack.name}: {traceback.format_exc()}")

    def resolve_update_parameters(backend: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, Any]:
        # moto looks UsePreviousValue parameters up in the *passed* parameters only and raises
        # KeyError for one that only ever had its default (CDK's BootstrapVersion).
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
        for p in incoming_params:
            if p.get("UsePreviousValue") and p["ParameterKey"] in instance.parameters:
                parameters[p["ParameterKey"]] = instance.parameters[p["ParameterKey"]]
        return parameters

    delete_change_set = CloudFormationBackend.delete_change_set

    def safe_delete_change_set(backend: Any, change_set_name: str) -> None:
        # moto raises UnboundLocalError (HTTP 500) for an unknown change set; AWS ignores it.
        known = change_set_name in backend.change_sets or any(
            cs.change_set_name == change_set_name for cs in backend.change_sets.values()
        )
        if known:
            delete_change_set(backend, change_set_name)

    def apply_change_set(change_set: Any) -> None:
        # moto applies a change set straight to the resource map: no strict check, a new stack
        # keeps its empty template (so no outputs: `cdk bootstrap` then finds no BootstrapVersion),
        # and a failure is an HTTP 500. Go through the same create / update as CreateStack does.
        stack = change_set.stack
        if change_set.change_set_type == "CREATE":
            stack.template = change_set.template
            stack._parse_template()
            stack.parameters = change_set.parameters
            stack.resource_map = stack._create_resource_map()
            stack.output_map = stack._create_output_map()
            stack.create_resources()
        else:
            # For UsePreviousValue moto copies the *resolved* value (an SSM parameter's value, not
            # its name); give the update the value that was passed before, or none (the default).
            resolved = stack.resource_map.resolved_parameters
            parameters = {}
            for key, value in (change_set.parameters or {}).items():
                if value == resolved.get(key) and resolved.get(key) != stack.parameters.get(key):
                    if key in stack.parameters:
                        parameters[key] = stack.parameters[key]
                    continue
                parameters[key] = value
            stack.update(change_set.template, stack.role_arn, parameters=parameters)

    execute_change_set = CloudFormationBackend.execute_change_set

    def execute_change_set_keeping_failures(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
        execute_change_set(backend, change_set_name, stack_name)
        for stack in backend.stacks.values():
            failure = getattr(stack, "local_cloud_failure", None)
            if failure is not None:
                stack.status = failure
                stack.local_cloud_failure = None

    describe_change_set = CloudFormationBackend.describe_change_set

    def describe_missing_change_set(backend: Any, change_set_name: str) -> Any:
        # moto answers "Stack with id <change set> does not exist" (ValidationError); the CDK CLI
        # checks for a leftover change set and expects AWS's ChangeSetNotFound.
        try:
            return describe_change_set(backend, change_set_name)
        except ValidationError:
            raise ChangeSetNotFound(change_set_name) from None

    def delete_in_dependency_order(resource_map: Any) -> None:
        # moto deletes in set order and retries what fails; CloudFormation deletes dependents
        # first (a custom resource that empties a bucket runs before the bucket goes).
        json_map = resource_map._resource_json_map
        remaining = [
            name for name in reversed(creation_order(json_map)) if json_map[name].get("DeletionPolicy") != "Retain"
        ]
        last_error: Exception | None = None
        for _ in range(5):
            failed = []
            for name in remaining:
                parsed = resource_map._parsed_resources.get(name)
                if parsed is None or isinstance(parsed, (str, list, dict)):
                    continue
                try:
                    resource_map._delete_resource(parsed, json_map[name])
                    resource_map._parsed_resources.pop(name, None)
                except Exception as exc:  # retried: something it depends on may still be going
                    last_error = exc
                    failed.append(name)
            if not failed:
                return
            remaining = failed
        assert last_error is not None
        raise last_error

    moto_attributes.install(patcher, class_from_type)
    patcher.set(parsing.ResourceMap, "delete", delete_in_dependency_order)
    patcher.set(CloudFormationBackend, "describe_change_set", describe_missing_change_set)
    patcher.set(ChangeSet, "apply", apply_change_set)
    patcher.set(CloudFormationBackend, "execute_change_set", execute_change_set_keeping_failures)
    patcher.set(parsing, "resource_class_from_type", class_from_type)
    patcher.set(parsing, "clean_json", strict_clean_json)
    patcher.set(parsing, "generate_resource_name", names.generated_name)
    patcher.set(parsing, "parse_and_update_resource", update_resource)
    patcher.set(Stack, "create_resources", strict_create_resources)
    patcher.set(Stack, "update", strict_update)
    patcher.set(CloudFormationBackend, "_resolve_update_parameters", resolve_update_parameters)
    patcher.set(CloudFormationBackend, "delete_change_set", safe_delete_change_set)
