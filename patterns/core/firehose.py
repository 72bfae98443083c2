"""Firehose delivery streams to an S3 archive: encrypted, compressed, date-prefixed, bounded buffers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_s3 as s3
from constructs import Construct

from . import objects, validation

#: Defaults of ``s3_delivery_stream``: objects under a UTC date prefix, failures under their error type.
ARCHIVE_PREFIX = "records/!{timestamp:yyyy/MM/dd}/"
ERROR_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
#: Firehose writes an object when its buffer holds this much, or this long after its first record.
BUFFER_SIZE_MIB = 5
BUFFER_INTERVAL = Duration.seconds(300)

_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")


def check_prefixes(prefix: str, error_prefix: str, *, prefix_name: str = "archive_prefix") -> None:
    """The prefix rules Firehose enforces when the stream is created, raised at synth instead."""
    for namespace, value in _EXPRESSION.findall(prefix):
        if namespace == "firehose" and value == "error-output-type":
            raise ValueError(f"{prefix_name} cannot use !{{firehose:error-output-type}} (only the error prefix can)")
        if namespace not in ("timestamp", "firehose") or (namespace == "firehose" and value != "random-string"):
            raise ValueError(
                f"{prefix_name} uses !{{{namespace}:{value}}}: only !{{timestamp:...}} and "
                "!{firehose:random-string} work without dynamic partitioning"
            )
    for namespace, value in _EXPRESSION.findall(error_prefix):
        if namespace not in ("timestamp", "firehose") or (
            namespace == "firehose" and value not in ("random-string", "error-output-type")
        ):
            raise ValueError(f"the error prefix uses !{{{namespace}:{value}}}, which Firehose does not evaluate")
    if "!{firehose:error-output-type}" not in error_prefix:
        raise ValueError(
            "the error prefix must contain !{firehose:error-output-type}, so failed records of different "
            f"kinds do not mix (given {error_prefix!r})"
        )


@dataclass(frozen=True)
class ArchiveStream:
    """A delivery stream into an S3 bucket and the role Firehose writes with."""

    resource: firehose.CfnDeliveryStream
    role: iam.Role

    def grant_put_records(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put records (``firehose:PutRecord``, ``firehose:PutRecordBatch``)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
            resource_arns=[self.resource.attr_arn],
        )


def s3_delivery_stream(
    scope: Construct,
    construct_id: str,
    *,
    bucket: s3.IBucket,
    prefix: str = ARCHIVE_PREFIX,
    error_prefix: str = ERROR_PREFIX,
    buffer_size_mib: int = BUFFER_SIZE_MIB,
    buffer_interval: Duration = BUFFER_INTERVAL,
    compress: bool = True,
) -> ArchiveStream:
    """A direct-put delivery stream into ``bucket``: server-side encrypted with an AWS-owned key,
    GZIP objects (unless ``compress`` is False), records under ``prefix`` and failures under
    ``error_prefix``, written by a role with the S3 actions Firehose documents and no others.

    The L1 resource, not the L2 ``DeliveryStream``: the L2 grants its role ``bucket.grant_read_write``
    (``s3:DeleteObject*`` and other wildcards), and the L2 (or an imported view of it) adds a region
    CIDR mapping that S3 destinations never use (cfn-lint W7001). Delivery error logging to CloudWatch
    Logs is off: failed records land under ``error_prefix``, which is what an operator replays from.
    """
    validation.in_range("buffer_size_mib", buffer_size_mib, 1, 128)
    validation.in_range("buffer_interval (seconds)", buffer_interval.to_seconds(), 0, 900)
    check_prefixes(prefix, error_prefix)
    role = iam.Role(scope, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
    why = "Firehose writes archive objects under keys it generates (prefix, timestamp, random suffix)"
    objects.grant_object_write(bucket, role, why=why)
    objects.grant_object_read(bucket, role, why=why, list_bucket=True)
    iam.Grant.add_to_principal(
        grantee=role, actions=["s3:AbortMultipartUpload"], resource_arns=[bucket.arn_for_objects("*")]
    )
    iam.Grant.add_to_principal(
        grantee=role, actions=["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
        resource_arns=[bucket.bucket_arn],
    )
    resource = firehose.CfnDeliveryStream(
        scope, construct_id,
        delivery_stream_type="DirectPut",
        delivery_stream_encryption_configuration_input=(
            firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(key_type="AWS_OWNED_CMK")
        ),
        extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
            bucket_arn=bucket.bucket_arn,
            role_arn=role.role_arn,
            prefix=prefix,
            error_output_prefix=error_prefix,
            buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                size_in_m_bs=buffer_size_mib, interval_in_seconds=int(buffer_interval.to_seconds())
            ),
            compression_format="GZIP" if compress else "UNCOMPRESSED",
            cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(enabled=False),
        ),
    )
    resource.node.add_dependency(role)  # the role's policy exists before Firehose first writes
    return ArchiveStream(resource=resource, role=role)
