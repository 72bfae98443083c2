"""Physical names CloudFormation generates for resources the template does not name.

CloudFormation builds most generated names as ``<stack name>-<logical id>-<random suffix>`` and
shortens the stack name and logical id so that the name fits the service's limit (a long stack
name must never make a deploy fail). A few types leave the stack name out: state machines and
secrets are named ``<logical id>-<suffix>``, SSM parameters ``CFN-<logical id>-<suffix>``; bucket
names are lower case. ``RULES`` holds the limit and form of every type the local cloud names.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_SUFFIX_LENGTH = 12
_MIXED = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class NameRule:
    """How CloudFormation names one resource type: the service's length limit and the name's form."""

    max_length: int
    with_stack: bool = True
    prefix: str = ""
    lowercase: bool = False


#: Service name limits from each service's API reference.
RULES: dict[str, NameRule] = {
    "AWS::Lambda::Function": NameRule(64),
    "AWS::Lambda::LayerVersion": NameRule(140),
    "AWS::SQS::Queue": NameRule(80),
    "AWS::SNS::Topic": NameRule(256),
    "AWS::DynamoDB::Table": NameRule(255),
    "AWS::DynamoDB::GlobalTable": NameRule(255),
    "AWS::Kinesis::Stream": NameRule(128),
    "AWS::KinesisFirehose::DeliveryStream": NameRule(64),
    "AWS::IAM::Role": NameRule(64),
    "AWS::IAM::ManagedPolicy": NameRule(128),
    "AWS::IAM::User": NameRule(64),
    "AWS::Events::Rule": NameRule(64),
    "AWS::Events::Archive": NameRule(48),
    "AWS::Events::Connection": NameRule(64),
    "AWS::Events::ApiDestination": NameRule(64),
    "AWS::Logs::LogGroup": NameRule(512),
    "AWS::CloudWatch::Alarm": NameRule(255),
    "AWS::Pipes::Pipe": NameRule(64),
    "AWS::Scheduler::Schedule": NameRule(64),
    "AWS::Scheduler::ScheduleGroup": NameRule(64),
    "AWS::S3::Bucket": NameRule(63, lowercase=True),
    "AWS::Cognito::UserPool": NameRule(128),
    "AWS::Cognito::UserPoolClient": NameRule(128),
    "AWS::StepFunctions::StateMachine": NameRule(80, with_stack=False),
    "AWS::SecretsManager::Secret": NameRule(512, with_stack=False),
    "AWS::SSM::Parameter": NameRule(1011, with_stack=False, prefix="CFN-"),
}

DEFAULT_RULE = NameRule(64)


def generated_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    """A fresh name for an unnamed resource, within its type's limit."""
    rule = RULES.get(resource_type, DEFAULT_RULE)
    alphabet = _LOWER if rule.lowercase else _MIXED
    suffix = "".join(random.choice(alphabet) for _ in range(_SUFFIX_LENGTH))
    budget = rule.max_length - len(rule.prefix) - len(suffix) - 1  # what is left for "<stack>-<logical>"
    if rule.with_stack:
        stack_part = stack_name[: max(budget - 1 - len(logical_id), budget // 2)]
        logical_part = logical_id[: budget - 1 - len(stack_part)]
        base = f"{stack_part}-{logical_part}".rstrip("-")
    else:
        base = logical_id[:budget]
    name = f"{rule.prefix}{base}-{suffix}"
    return name.lower() if rule.lowercase else name
