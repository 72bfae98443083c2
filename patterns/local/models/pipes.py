"""EventBridge Pipes (run by delivery/pipes.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import _LocalModel

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


class PipesPipe(_LocalModel):
    """AWS::Pipes::Pipe (SQS, Kinesis and DynamoDB stream sources, polled locally; see pipes.py)."""

    CFN_TYPE = "AWS::Pipes::Pipe"
    NAME_PROPERTY = "Name"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> PipesPipe:
        from moto.pipes.models import pipes_backends

        from ..context import active
        from ..delivery import pipes

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
