"""Step Functions state machines (executed by patterns/local/stepfunctions)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import TypedModel

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


class StateMachineModel(TypedModel):
    """AWS::StepFunctions::StateMachine on moto's executing (ASL interpreter) backend.

    moto's own model reads only DefinitionString; CDK may also emit Definition (an object) and
    DefinitionSubstitutions. (Not a CloudFormationModel: moto's type must keep its own model registered.)
    """

    CFN_TYPE = "AWS::StepFunctions::StateMachine"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name", "StateMachineRevisionId")

    @staticmethod
    def _definition(props: Mapping[str, Any]) -> str:
        definition = props.get("DefinitionString")
        if definition is None and "Definition" in props:
            definition = json.dumps(props["Definition"])
        definition = definition or "{}"
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        return definition

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        props = cloudformation_json["Properties"]
        name = props.get("StateMachineName", resource_name)
        tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])]
        return stepfunctions_parser_backends[account_id][region_name].create_state_machine(
            name,
            cls._definition(props),
            props.get("RoleArn", f"arn:aws:iam::{account_id}:role/local-cloud"),
            tags=tags,
            loggingConfiguration=props.get("LoggingConfiguration"),
            tracingConfiguration=props.get("TracingConfiguration"),
            sm_type=props.get("StateMachineType", "STANDARD"),
        )

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        props = cloudformation_json["Properties"]
        backend = stepfunctions_parser_backends[account_id][region_name]
        name = props.get("StateMachineName", original_resource.name)
        if name != original_resource.name:
            backend.delete_state_machine(original_resource.arn)
            return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
        return backend.update_state_machine(
            original_resource.arn, definition=cls._definition(props), role_arn=props.get("RoleArn")
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        stepfunctions_parser_backends[account_id][region_name].delete_state_machine(resource_name)
