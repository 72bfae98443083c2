"""Cross-stack references: stack Outputs with ``Export`` and ``Fn::ImportValue``, with AWS's guards.

moto registers a stack's exports once, at creation: an update that adds, changes or removes an
export leaves the region's export list stale (an import then reads an old value, or a removed
export stays importable), and nothing stops deleting or updating an export another stack imports.
CloudFormation refuses both ("Export X cannot be deleted as it is in use by Y", "Cannot update
export X as it is in use by Y") and leaves the exporting stack as it was. Here:

- before an update touches any resource, an export in use that the new template drops, or whose
  Value expression changes, fails the update (so the stack's resources stay untouched);
- after an update, the region's export list is the stack's new exports (names stay unique);
- deleting a stack whose export is in use fails with DELETE_FAILED, nothing deleted;
- a new stack's exports are read once its resources exist (moto reads them first, see install);
- ``Fn::GetStackOutput`` (the weak reference CDK's ``@aws-cdk/core:defaultCrossStackReferences:
  weak`` emits; moto does not know it) reads another stack's output at create/update time, with no
  export and no guard, as AWS documents: a later change of the producer does not reach the consumer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import LocalCloudError

if TYPE_CHECKING:
    from ..core.hooks import Patcher

__all__ = [
    "check_update", "check_values_kept", "exported_values", "importers", "install", "registered",
    "stack_output",
    "sync",
]


def _backend(stack: Any) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[stack.account_id][stack.region_name]


def _imported_names(stack: Any) -> set[str]:
    """Export names ``stack``'s template imports (resolved as moto resolves Fn::ImportValue)."""
    from moto.cloudformation import parsing

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::ImportValue":
                    if isinstance(value, str):
                        found.add(value)
                    else:
                        try:
                            found.add(str(parsing.clean_json(value, stack.resource_map)))
                        except Exception:  # an unresolvable name cannot be an import in use
                            continue
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(stack.template_dict)
    return found


def stack_output(spec: Any, resources_map: Any, clean: Callable[[Any, Any], Any]) -> Any:
    """The value ``Fn::GetStackOutput`` resolves to: the named output of a live stack (this account)."""
    from moto.cloudformation.models import cloudformation_backends

    if not isinstance(spec, dict) or not {"StackName", "OutputName"} <= set(spec):
        raise LocalCloudError(f"Fn::GetStackOutput needs StackName and OutputName (given {spec!r})")
    account = resources_map._account_id
    stack_name = str(clean(spec["StackName"], resources_map))
    output_name = str(clean(spec["OutputName"], resources_map))
    region = str(clean(spec.get("Region") or resources_map._region_name, resources_map))
    role = spec.get("RoleArn")
    if role is not None and str(clean(role, resources_map)).split(":")[4:5] != [account]:
        raise LocalCloudError(
            f"Fn::GetStackOutput of {stack_name}.{output_name}: a cross-account RoleArn is not supported by the "
            "local cloud (it holds one account)"
        )
    backend = cloudformation_backends[account][region]
    live = (s for s in backend.stacks.values() if not s.status.startswith("DELETE"))
    stack = next((s for s in live if stack_name in (s.name, s.stack_id)), None)
    if stack is None:
        raise LocalCloudError(f"Fn::GetStackOutput: no stack {stack_name} in {region}")
    output = stack.output_map[output_name] if output_name in (stack.template_dict.get("Outputs") or {}) else None
    if output is None:
        raise LocalCloudError(f"Fn::GetStackOutput: stack {stack_name} has no output {output_name}")
    return output.value


def importers(backend: Any, export_name: str, *, besides: Any = None) -> list[str]:
    """Names of the live stacks (other than ``besides``) whose templates import ``export_name``."""
    return sorted(
        s.name
        for s in backend.stacks.values()
        if s is not besides and not s.status.startswith("DELETE") and export_name in _imported_names(s)
    )


def _export_expressions(template: Mapping[str, Any]) -> dict[str, str]:
    """Export name (as written, when a plain string) → its output's Value expression, as JSON."""
    expressions = {}
    for output in (template.get("Outputs") or {}).values():
        name = (output.get("Export") or {}).get("Name")
        if isinstance(name, str):
            expressions[name] = json.dumps(output.get("Value"), sort_keys=True)
    return expressions


def registered(backend: Any, stack: Any) -> list[str]:
    """The names of the exports the region holds for ``stack``."""
    return [name for name, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]


def exported_values(stack: Any) -> dict[str, str]:
    """The stack's exports as the region holds them (name → value)."""
    backend = _backend(stack)
    return {name: str(backend.exports[name].value) for name in registered(backend, stack)}


def check_update(stack: Any, new_template: Mapping[str, Any]) -> None:
    """Raise before an update that would delete or change an export another stack imports."""
    backend = _backend(stack)
    old = registered(backend, stack)
    old_expressions = _export_expressions(stack.template_dict)
    new_expressions = _export_expressions(new_template)
    for name in old:
        users = importers(backend, name, besides=stack)
        if not users:
            continue
        if name not in new_expressions:
            raise LocalCloudError(f"Export {name} cannot be deleted as it is in use by {', '.join(users)}")
        if name in old_expressions and old_expressions[name] != new_expressions[name]:
            raise LocalCloudError(f"Cannot update export {name} as it is in use by {', '.join(users)}")


def check_values_kept(stack: Any, before: Mapping[str, str]) -> None:
    """After an update: an export in use whose resolved value changed (a replaced resource) fails it."""
    backend = _backend(stack)
    now = {e.name: e.value for e in stack.exports}
    for name, value in before.items():
        if name in now and now[name] != value and importers(backend, name, besides=stack):
            users = ", ".join(importers(backend, name, besides=stack))
            raise LocalCloudError(f"Cannot update export {name} as it is in use by {users}")


def sync(stack: Any) -> None:
    """Make the region's export list hold ``stack``'s current exports (after create or update)."""
    backend = _backend(stack)
    current = {e.name: e for e in stack.exports}
    for name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id and name not in current:
            del backend.exports[name]
    for name, export in current.items():
        holder = backend.exports.get(name)
        if holder is not None and holder.exporting_stack_id != stack.stack_id:
            raise LocalCloudError(f"Export with name {name} is already exported by another stack")
        backend.exports[name] = export


def install(patcher: Patcher, fail: Callable[[Any, str, Exception], None]) -> None:
    """Register exports once a stack is created; guard DeleteStack (an export in use: DELETE_FAILED).

    moto's CreateStack reads the outputs before creating any resource, and its resource map
    creates what an output references on first access: a REST API stage exported that way is
    created before the API's methods (and fails). Here exports are read after the resources.
    """
    from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.utils import generate_stack_id

    def create_stack(
        backend: Any,
        name: str,
        template: str,
        parameters: dict[str, Any],
        notification_arns: list[str] | None = None,
        tags: dict[str, str] | None = None,
        role_arn: str | None = None,
        enable_termination_protection: bool | None = False,
        timeout_in_mins: int | None = None,
        stack_policy_body: str | None = None,
    ) -> Any:
        if name in [stack.name for stack in backend.stacks.values()]:
            raise AlreadyExistsException(f"Stack {name} already exists")
        stack = Stack(
            stack_id=generate_stack_id(name, backend.region_name, backend.account_id),
            name=name,
            template=template,
            parameters=parameters,
            account_id=backend.account_id,
            region_name=backend.region_name,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
            cross_stack_resources=backend.exports,
            enable_termination_protection=enable_termination_protection,
            timeout_in_mins=timeout_in_mins,
            stack_policy_body=stack_policy_body,
        )
        if set(_export_expressions(stack.template_dict)) & set(backend.exports):
            raise ValidationError(stack.stack_id, message="Export names must be unique across a given region")
        backend.stacks[stack.stack_id] = stack
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.create_resources()
        if stack.status == "CREATE_COMPLETE":
            try:
                sync(stack)
            except LocalCloudError as exc:
                fail(stack, "CREATE_FAILED", exc)
        return stack

    patcher.set(CloudFormationBackend, "create_stack", create_stack)

    def guarded_delete_stack(backend: Any, name_or_stack_id: str) -> None:
        stack = backend.stacks.get(name_or_stack_id) or next(
            (s for s in backend.stacks.values() if s.name == name_or_stack_id), None
        )
        if stack is None:
            return
        names = registered(backend, stack)
        for name in names:
            users = importers(backend, name, besides=stack)
            if users:
                reason = f"Export {name} cannot be deleted as it is in use by {', '.join(users)}"
                stack.status = "DELETE_FAILED"
                stack.stack_status_reason = reason
                stack.status_reason = reason
                stack._add_stack_event("DELETE_FAILED", resource_status_reason=reason)
                return
        backend.stacks.pop(stack.stack_id)
        stack.delete()
        backend.deleted_stacks[stack.stack_id] = stack
        for name in names:
            backend.exports.pop(name, None)

    patcher.set(CloudFormationBackend, "delete_stack", guarded_delete_stack)
