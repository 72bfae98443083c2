"""Documented Fn::GetAtt attributes that moto's own models lack, added to those models.

The CloudFormation resource reference lists them; moto's model answers "does not support
attribute" (a deploy error for a template that is fine on AWS). Each entry reads the value from
the moto model.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.hooks import Patcher

#: type -> attribute -> value from the moto model
EXTRA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "AWS::KMS::Key": {"KeyId": lambda key: key.id},
    "AWS::SQS::Queue": {"QueueUrl": lambda queue: queue.physical_resource_id},
    "AWS::SNS::Topic": {"TopicArn": lambda topic: topic.arn},
    # GlobalTable (TableV2) creates a moto Table: TableId is the table's unique id.
    # StateMachineRevisionId: the latest revision; without published revisions, the creation's.
    "AWS::StepFunctions::StateMachine": {
        "Arn": lambda machine: machine.arn,
        "StateMachineRevisionId": lambda machine: str(uuid.uuid5(uuid.NAMESPACE_URL, machine.arn)),
    },
    "AWS::DynamoDB::Table": {"TableId": lambda table: str(uuid.uuid5(uuid.NAMESPACE_URL, table.table_arn))},
    "AWS::Lambda::LayerVersion": {"LayerVersionArn": lambda layer: layer.arn},
    "AWS::Lambda::EventSourceMapping": {"Id": lambda esm: esm.uuid, "EventSourceMappingArn": lambda esm: esm.arn},
    "AWS::IAM::ManagedPolicy": {
        "PolicyArn": lambda policy: policy.arn,
        "PolicyId": lambda policy: policy.id,
        "DefaultVersionId": lambda policy: policy.default_version_id,
        "AttachmentCount": lambda policy: policy.attachment_count,
        "IsAttachable": lambda policy: True,
    },
}


#: type -> what Ref returns, for moto models without a physical id (Ref gave the model object)
PHYSICAL_IDS: dict[str, Callable[[Any], str]] = {
    "AWS::Lambda::LayerVersion": lambda layer: layer.arn,
    "AWS::Events::Archive": lambda archive: archive.name,
    # A rule on a custom bus: "<bus name>|<rule name>", as the resource reference documents.
    "AWS::Events::Rule": lambda rule: (
        rule.name if rule.event_bus_name == "default" else f"{rule.event_bus_name}|{rule.name}"
    ),
}


#: Where the local cloud's model hands back an instance of another moto class than its own.
_INSTANCE_CLASSES = {"AWS::StepFunctions::StateMachine": ("moto.stepfunctions.models", "StateMachine")}


def _moto_class(resource_type: str, class_from_type: Callable[[str], Any]) -> Any:
    if resource_type in _INSTANCE_CLASSES:
        import importlib

        module, name = _INSTANCE_CLASSES[resource_type]
        return getattr(importlib.import_module(module), name)
    # The instances are moto's own class even where the local cloud wraps its create: patch that.
    return next(k for k in class_from_type(resource_type).__mro__ if k.__module__.startswith("moto."))


def _no_attribute(model: Any, name: str) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    raise UnformattedGetAttTemplateException()


def install(patcher: Patcher, class_from_type: Callable[[str], Any]) -> None:
    """Teach each model class its missing attributes and physical ids (for the life of the patch set)."""
    for resource_type, extra in EXTRA.items():
        model = _moto_class(resource_type, class_from_type)
        has_attr = model.has_cfn_attr
        get_attribute = getattr(model, "get_cfn_attribute", None) or _no_attribute

        def has_cfn_attr(cls: Any, attr: str, _has: Any = has_attr, _extra: Any = extra) -> bool:
            return attr in _extra or bool(_has(attr))

        def get_cfn_attribute(self: Any, name: str, _get: Any = get_attribute, _extra: Any = extra) -> Any:
            if name in _extra:
                return _extra[name](self)
            return _get(self, name)

        patcher.set(model, "has_cfn_attr", classmethod(has_cfn_attr))
        patcher.set(model, "get_cfn_attribute", get_cfn_attribute)
    for resource_type, physical_id in PHYSICAL_IDS.items():
        model = _moto_class(resource_type, class_from_type)
        patcher.set(model, "physical_resource_id", property(physical_id))
