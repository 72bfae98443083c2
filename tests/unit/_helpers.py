"""Template helpers shared by the unit tests: one synthesized pattern and what its template says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

P = TypeVar("P")
B = TypeVar("B", bound="Built[Any]")


@dataclass
class Built(Generic[P]):
    """A pattern built in its own stack, and that stack's template."""

    stack: Stack
    pattern: P
    #: Set by ``synth`` once every stack of the app exists (synthesizing locks the app).
    template: Template = field(default=None)  # type: ignore[assignment]

    def logical_id(self, construct: Any) -> str:
        """The logical id of an L2 construct's resource (or of an L1 resource)."""
        return self.stack.get_logical_id(construct.node.default_child)

    def ref(self, construct: Any) -> dict[str, Any]:
        return {"Ref": self.logical_id(construct)}

    def arn(self, construct: Any) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.logical_id(construct), "Arn"]}

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.template.find_resources(kind)

    def props(self, construct: Any) -> dict[str, Any]:
        return self.template.to_json()["Resources"][self.logical_id(construct)]["Properties"]

    def env(self, function: Any) -> dict[str, Any]:
        """A function's environment variables."""
        return self.props(function)["Environment"]["Variables"]

    def statements(self, role: iam.IRole | None) -> list[dict[str, Any]]:
        """Every statement of the IAM policies attached to ``role`` (e.g. a function's ``role``)."""
        assert role is not None
        role_ref = {"Ref": self.stack.get_logical_id(role.node.default_child)}
        return [
            s for policy in self.resources("AWS::IAM::Policy").values()
            if role_ref in policy["Properties"]["Roles"]
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


def with_existing(scope: Any, props: dict[str, Any]) -> dict[str, Any]:
    """Props with each callable ``existing_*`` value called on ``scope``: tests pass factories so the
    injected resource is created in the stack under test."""
    return {k: v(scope) if callable(v) and k.startswith("existing_") else v for k, v in props.items()}


def synth(stacks: dict[str, B]) -> dict[str, B]:
    """Synthesize the app once and give every entry its template."""
    for entry in stacks.values():
        entry.template = Template.from_stack(entry.stack)
    return stacks


def objects(bucket_arn: Any, pattern: str) -> dict[str, Any]:
    """The ARN of the objects matching ``pattern`` in the bucket of ``bucket_arn``, as CDK renders it."""
    return {"Fn::Join": ["", [bucket_arn, f"/{pattern}"]]}


def action_list(statement: dict[str, Any]) -> list[str]:
    """A policy statement's actions in template order, whether the template holds one or several."""
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def action_set(statement: dict[str, Any]) -> set[str]:
    """A policy statement's actions as a set."""
    return set(action_list(statement))
