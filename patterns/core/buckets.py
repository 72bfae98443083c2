"""S3 buckets with the library defaults: private, encrypted, TLS-only, versioned, access-logged."""

from __future__ import annotations

from dataclasses import dataclass
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


#: ``s3.Bucket`` props a pattern sets on every bucket it creates.
FORCED_BUCKET_PROPS = (
    "block_public_access", "enforce_ssl", "public_read_access", "server_access_logs_bucket", "server_access_logs_prefix"
)


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
    validation.reserved(
        bucket_props_name, props, FORCED_BUCKET_PROPS,
        "every bucket is private, TLS-only and logs its access to the pattern's log bucket",
    )
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


@dataclass(frozen=True)
class BucketPair:
    """A pattern's source and target buckets and the log bucket of the new ones (None if both exist)."""

    access_logs: s3.Bucket | None
    source: s3.IBucket
    target: s3.IBucket


def bucket_pair(
    scope: Construct,
    *,
    existing_source: s3.IBucket | None,
    source_props: dict[str, Any] | None,
    existing_target: s3.IBucket | None,
    target_props: dict[str, Any] | None,
    source_name: str = "input",
    target_name: str = "output",
) -> BucketPair:
    """Resolve the two buckets of a pattern that reads one and writes the other.

    Each is ``bucket``'s ``<Name>Bucket`` (e.g. ``InputBucket``) from ``existing_<name>_bucket`` or
    ``<name>_bucket_props``; one shared ``access_log_bucket`` is created when either is new.
    """
    logs = access_log_bucket(scope) if existing_source is None or existing_target is None else None
    source, target = (
        bucket(
            scope, f"{name.capitalize()}Bucket", existing_bucket=existing, bucket_props=props,
            server_access_logs=logs,
            existing_bucket_name=f"existing_{name}_bucket", bucket_props_name=f"{name}_bucket_props",
        )
        for name, existing, props in (
            (source_name, existing_source, source_props), (target_name, existing_target, target_props)
        )
    )
    return BucketPair(logs, source, target)
