"""S3 buckets with the library defaults: private, encrypted, TLS-only, versioned, access-logged."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_s3 as s3
from constructs import Construct

from . import nag, validation


def access_log_bucket(scope: Construct, construct_id: str = "AccessLogs") -> s3.Bucket:
    """The target of server access logs; it cannot log to itself."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
    )
    nag.acknowledge(bucket, "AwsSolutions-S1", "this bucket receives the server access logs of the pattern's buckets")
    return bucket


def bucket(
    scope: Construct,
    construct_id: str,
    *,
    existing_bucket: s3.IBucket | None = None,
    bucket_props: dict[str, Any] | None = None,
    server_access_logs: s3.IBucket | None = None,
    existing_bucket_name: str = "existing_bucket",
    bucket_props_name: str = "bucket_props",
) -> s3.IBucket:
    """Resolve a pattern's bucket: an injected one or a new one from defaults + ``bucket_props``.

    ``server_access_logs`` is required for a new bucket: share one log bucket per pattern instance.
    """
    validation.exclusive(**{existing_bucket_name: existing_bucket, bucket_props_name: bucket_props})
    if existing_bucket is not None:
        return existing_bucket
    props = dict(bucket_props or {})
    for forced in ("block_public_access", "enforce_ssl", "public_read_access"):
        if forced in props:
            raise ValueError(f"{bucket_props_name}[{forced!r}] is set by the pattern and cannot be overridden")
    props.setdefault("encryption", s3.BucketEncryption.S3_MANAGED)
    props.setdefault("versioned", True)
    if server_access_logs is None:
        raise ValueError(f"{construct_id}: a new bucket needs server_access_logs (a log bucket)")
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        server_access_logs_bucket=server_access_logs,
        server_access_logs_prefix=f"{construct_id}/",
        **props,
    )
