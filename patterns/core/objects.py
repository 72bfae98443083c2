"""Object-level S3 grants: the one action a handler needs on the keys it touches.

``bucket.grant_read`` / ``grant_put`` grant wildcard actions (``s3:GetObject*``, ``s3:List*``,
``s3:Abort*``...) that cdk-nag flags one by one, and more than a handler needs: reading is
``s3:GetObject`` (which also allows HeadObject), writing is ``s3:PutObject``. The key pattern is
still a wildcard because keys are data; that single finding is acknowledged on the grantee's role,
naming the pattern and why. A bucket encrypted with a customer key also grants that key.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from . import nag


def grant_object_read(
    bucket: s3.IBucket, grantee: iam.IGrantable, key_pattern: str = "*", *, why: str, list_bucket: bool = False
) -> iam.Grant:
    """Allow ``s3:GetObject`` on ``key_pattern`` (and ``s3:ListBucket`` on the bucket if ``list_bucket``,
    so a missing key answers 404 rather than 403)."""
    grant = _grant(bucket, grantee, ["s3:GetObject"], key_pattern, why)
    if list_bucket:
        iam.Grant.add_to_principal(grantee=grantee, actions=["s3:ListBucket"], resource_arns=[bucket.bucket_arn])
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant_decrypt(grantee)
    return grant


def grant_object_write(bucket: s3.IBucket, grantee: iam.IGrantable, key_pattern: str = "*", *, why: str) -> iam.Grant:
    """Allow ``s3:PutObject`` on ``key_pattern`` only."""
    grant = _grant(bucket, grantee, ["s3:PutObject"], key_pattern, why)
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant_encrypt(grantee)
    return grant


def _grant(bucket: s3.IBucket, grantee: iam.IGrantable, actions: list[str], key_pattern: str, why: str) -> iam.Grant:
    if not key_pattern:
        raise ValueError("key_pattern must not be empty: use '*' for every key")
    resource = bucket.arn_for_objects(key_pattern)
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[resource])
    principal = grantee.grant_principal
    if "*" in key_pattern and isinstance(principal, Construct):
        finding = _render(Stack.of(principal).resolve(resource))
        if finding is not None:
            nag.acknowledge(
                principal, f"AwsSolutions-IAM5[Resource::{finding}]",
                f"{why}; object keys are data known only at run time, so {' '.join(actions)} is scoped to "
                f"the key pattern {key_pattern!r} of this one bucket",
            )
    return grant


def _render(value: Any) -> str | None:
    """A resolved CloudFormation value as cdk-nag prints it in a finding id (None if it cannot)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if fn == "Fn::Join":
            parts = [_render(part) for part in arg[1]]
            return None if any(p is None for p in parts) else arg[0].join(parts)
    return None
