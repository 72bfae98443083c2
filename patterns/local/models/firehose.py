"""Kinesis Data Firehose delivery streams (delivered by delivery/firehose.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import _cfn_error, _LocalModel

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


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

        from ..delivery.firehose import check_config

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
