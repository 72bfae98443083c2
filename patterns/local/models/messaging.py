"""SNS and SQS: subscriptions, queue and topic policies, and the topic / queue models moto's lack."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import _LocalModel, _policy_text

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


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
