"""SNS topics: KMS-encrypted with a rotating customer key, TLS-only publishing."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from . import validation


def topic(
    scope: Construct,
    construct_id: str = "Topic",
    *,
    existing_topic: sns.ITopic | None = None,
    master_key: kms.IKey | None = None,
    publishing_services: tuple[str, ...] = (),
    fifo: bool = False,
) -> sns.ITopic:
    """Resolve a pattern's topic.

    A customer-managed key (not ``alias/aws/sns``) is the default because AWS services that publish
    for us (S3 notifications, EventBridge, CloudWatch alarms) need ``kms:GenerateDataKey`` on it,
    which an AWS-managed key cannot grant. ``publishing_services`` lists those service principals.
    """
    validation.exclusive(existing_topic=existing_topic, master_key=master_key if existing_topic else None)
    if existing_topic is not None:
        return existing_topic
    key = master_key or kms.Key(
        scope, f"{construct_id}Key", enable_key_rotation=True, description=f"Encrypts SNS topic {construct_id}"
    )
    created = sns.Topic(scope, construct_id, master_key=key, enforce_ssl=True, fifo=fifo or None)
    for service in publishing_services:
        # The destination construct (S3 notification, EventBridge target) adds the topic policy.
        key.grant(iam.ServicePrincipal(service), "kms:GenerateDataKey*", "kms:Decrypt")
    return created


def grant_publish(topic: sns.ITopic, grantee: iam.IGrantable) -> iam.Grant:
    """Least-privilege publishing: ``sns:Publish`` on the topic and, when its key is known, exactly
    ``kms:GenerateDataKey`` and ``kms:Decrypt`` on that key.

    ``ITopic.grant_publish`` asks for ``kms:GenerateDataKey*``, a wildcard cdk-nag flags (IAM5).
    For an imported topic without a known key, grant its key to ``grantee`` yourself.
    """
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[topic.topic_arn])
    if topic.master_key is not None:
        topic.master_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
    return grant
