"""CloudFormation in moto, made strict and complete enough for CDK templates.

moto skips resource types it has no model for (a log warning, and the stack still says
CREATE_COMPLETE), drops ``Fn::GetAtt`` attributes it does not know, loses resources whose model
cannot update, and fails on two update paths the CDK CLI uses. Here:

- every resource type of a template must be supported (a model below, a moto model, a custom
  resource, or one of the few INERT types), else the stack fails naming the logical id and type;
- models are added for the types CDK stacks need and moto lacks;
- updates of models without an update method replace (or, for stateful types, keep) the resource;
- ``UsePreviousValue`` for a parameter that was never passed, and DeleteChangeSet of an unknown
  change set, no longer crash.
"""

from __future__ import annotations

import contextlib
import traceback
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import LocalCloudError, UnsupportedResourceError
from .appsync import MODELS as APPSYNC_MODELS
from .base import _LocalModel
from .dynamodb import DynamoDbGlobalTable, _dynamodb_table_model
from .firehose import FirehoseDeliveryStream
from .inert import InertResource
from .lambda_ import LambdaAlias, LambdaEventInvokeConfig, LambdaUrl
from .messaging import SnsSubscription, SnsTopicPolicy, SqsQueuePolicy, _sns_topic_model, _sqs_queue_model
from .monitoring import CloudWatchAlarm, LogsMetricFilter
from .pipes import PipesPipe
from .s3 import S3BucketPolicy, _s3_bucket_model
from .scheduler import SchedulerSchedule, SchedulerScheduleGroup
from .stepfunctions import StateMachineModel

if TYPE_CHECKING:
    from ..core import CloudCore
    from ..core.hooks import Patcher

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)
INERT_TYPES = frozenset(
    {
        "AWS::CDK::Metadata",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::XRay::Group",
        "AWS::XRay::SamplingRule",
        "AWS::CloudWatch::CompositeAlarm",
        "AWS::CloudWatch::AnomalyDetector",
        "AWS::Logs::QueryDefinition",
        "AWS::Lambda::CodeSigningConfig",
        "AWS::Events::EventBusPolicy",
    }
)

#: moto's own models the local cloud accepts: types whose Ref / GetAtt the contract test checks
#: (tests/local/test_cfn_contract.py) and whose resources the local cloud runs or needs for wiring.
#: moto has models for many more (EC2, RDS, ECS, ...): deploying them would succeed and run
#: nothing, so they fail at deploy instead, naming the resource.
ACCEPTED_MOTO_TYPES = frozenset(
    {
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::RestApi",
        "AWS::CloudWatch::Dashboard",
        "AWS::ECR::Repository",  # in the CDK bootstrap stack (container assets are not run locally)
        "AWS::Events::Archive",
        "AWS::Events::Rule",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::KMS::Alias",
        "AWS::KMS::Key",
        "AWS::Kinesis::Stream",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Version",
        "AWS::Logs::LogGroup",
        "AWS::Logs::ResourcePolicy",
    }
)

#: moto models whose resources carry state: on a template change they are kept, never replaced.
_KEEP_ON_UPDATE = frozenset({"AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup"})

_CUSTOM_TYPES = ("Custom::", "AWS::CloudFormation::CustomResource")


#: Models the local cloud adds (new types, direct CloudFormationModel subclasses).
NEW_MODELS: tuple[type[_LocalModel], ...] = (
    SnsSubscription,
    SqsQueuePolicy,
    SnsTopicPolicy,
    S3BucketPolicy,
    LambdaEventInvokeConfig,
    LambdaAlias,
    LambdaUrl,
    CloudWatchAlarm,
    LogsMetricFilter,
    DynamoDbGlobalTable,
    SchedulerScheduleGroup,
    SchedulerSchedule,
    FirehoseDeliveryStream,
    PipesPipe,
    *APPSYNC_MODELS,
)


def local_models() -> dict[str, type]:
    """Every model the local cloud provides, by resource type (overrides of moto included)."""
    from . import MODELS
    from .custom_resources import CustomResource
    from .events import rule_model
    from .kms import key_model

    models: dict[str, type] = {model.cloudformation_type(): model for model in (*NEW_MODELS, *MODELS)}
    models["AWS::StepFunctions::StateMachine"] = StateMachineModel
    models["AWS::SNS::Topic"] = _sns_topic_model()
    models["AWS::S3::Bucket"] = _s3_bucket_model()
    models["AWS::DynamoDB::Table"] = _dynamodb_table_model()
    models["AWS::SQS::Queue"] = _sqs_queue_model()
    models["AWS::KMS::Key"] = key_model()
    models["AWS::Events::Rule"] = rule_model()
    models["AWS::CloudFormation::CustomResource"] = CustomResource
    return models


def clear_model_caches() -> None:
    from moto.cloudformation import parsing

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def supported_types() -> set[str]:
    """Resource types a template may use (custom resource types aside)."""
    from moto.cloudformation.parsing import get_model_map

    package = __package__ or "patterns"
    own = {t for t, model in get_model_map().items() if "::" in t and model.__module__.startswith(package)}
    moto_types = set(get_model_map()) & ACCEPTED_MOTO_TYPES
    return moto_types | own | set(local_models()) | set(INERT_TYPES)


def _is_custom(resource_type: str) -> bool:
    return resource_type.startswith(_CUSTOM_TYPES)


def _condition_true(condition_map: Any, condition: str | None) -> bool:
    if not condition:
        return True
    try:
        return bool(condition_map[condition])
    except KeyError:
        return True


def check_template(template: Mapping[str, Any], condition_map: Any) -> None:
    """Strict mode: raise UnsupportedResourceError naming every resource the cloud cannot create."""
    supported = supported_types()
    problems = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not _condition_true(condition_map, resource.get("Condition")):
            continue
        resource_type = resource.get("Type", "")
        if resource_type not in supported and not _is_custom(resource_type):
            problems.append((logical_id, resource_type))
    if problems:
        raise UnsupportedResourceError(problems)


def check_nothing_skipped(template: Mapping[str, Any], resource_map: Any) -> None:
    """moto may still have skipped a resource (a model returning None): that is an error too."""
    missing = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not _condition_true(resource_map.lazy_condition_map, resource.get("Condition")):
            continue
        if resource_map._parsed_resources.get(logical_id) is None:
            missing.append((logical_id, resource.get("Type", "")))
    if missing:
        raise UnsupportedResourceError(missing)


def creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids in an order where every resource comes after what it references."""
    import re

    def references(node: Any, found: set[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and isinstance(value, str):
                    found.add(value)
                elif key == "Fn::GetAtt":
                    found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
                elif key == "Fn::Sub":
                    template = value[0] if isinstance(value, list) else value
                    found.update(re.findall(r"\$\{([^}!.]+)", str(template)))
                    references(value, found)
                else:
                    references(value, found)
        elif isinstance(node, list):
            for item in node:
                references(item, found)

    needs: dict[str, set[str]] = {}
    for name, resource in resources.items():
        found: set[str] = set()
        references(resource.get("Properties", {}), found)
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        needs[name] = {n for n in found if n in resources and n != name}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for need in sorted(needs[name]):
            visit(need)
        visiting.discard(name)
        order.append(name)

    for name in resources:
        visit(name)
    return order


def _fail(stack: Any, status: str, exc: Exception) -> None:
    from moto.cloudformation.models import Event

    reason = str(exc) if isinstance(exc, LocalCloudError) else f"{type(exc).__name__}: {exc}"
    stack.status = status
    stack.local_cloud_failure = status
    stack.stack_status_reason = reason
    stack.status_reason = reason
    problems = getattr(exc, "problems", None) or [(stack.name, "AWS::CloudFormation::Stack")]
    for logical_id, resource_type in problems:
        stack.events.append(
            Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=logical_id,
                physical_resource_id="",
                resource_type=resource_type,
                resource_status=status,
                resource_status_reason=reason,
                resource_properties=None,
            )
        )
    stack._add_stack_event(status, resource_status_reason=reason)


def install(core: CloudCore, patcher: Patcher) -> None:
    """Install the models and CloudFormation fixes of the local cloud."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import (
        CloudFormationError,
        UnformattedGetAttTemplateException,
        ValidationError,
    )
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack

    class ChangeSetNotFound(CloudFormationError):
        code = "ChangeSetNotFound"

        def __init__(self, name: str) -> None:
            super().__init__(f"ChangeSet [{name}] does not exist")

    from . import dynamic, exports, moto_attributes, names
    from .custom_resources import CustomResource

    clear_model_caches()
    models = local_models()
    resource_class_from_type = parsing.resource_class_from_type
    clean_json = parsing.clean_json
    parse_and_update_resource = parsing.parse_and_update_resource
    parse_and_create_resource = parsing.parse_and_create_resource

    def class_from_type(resource_type: str) -> Any:
        if resource_type in models:
            return models[resource_type]
        if resource_type in INERT_TYPES:
            return InertResource
        if _is_custom(resource_type):
            return CustomResource
        return resource_class_from_type(resource_type)

    def strict_clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, dict) and "Fn::GetStackOutput" in resource_json:
            return exports.stack_output(resource_json["Fn::GetStackOutput"], resources_map, strict_clean_json)
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Ref"), str):
            check_ref(resource_json["Ref"], resources_map)
        cleaned = _strict_clean_json(resource_json, resources_map)
        if isinstance(cleaned, str) and "{{resolve:" in cleaned and hasattr(resources_map, "_account_id"):
            return dynamic.resolve(cleaned, resources_map._account_id, resources_map._region_name)
        return cleaned

    def check_ref(name: str, resources_map: Any) -> None:
        # moto's Ref falls back to the model object itself when it has no physical id; the next
        # string operation on it then fails deep inside moto. Name the resource instead.
        json_map = getattr(resources_map, "_resource_json_map", None)  # conditions pass a plain dict
        if json_map is None or name.startswith("AWS::") or name not in json_map:
            return
        resource = resources_map[name]
        if resource is None or isinstance(resource, (str, int, float, list, dict)):
            return
        physical = getattr(resource, "physical_resource_id", None)
        if not isinstance(physical, str) or not physical:
            resource_type = json_map[name].get("Type", "")
            raise LocalCloudError(f"{name} ({resource_type}): Ref has no physical id in the local cloud")

    def _strict_clean_json(resource_json: Any, resources_map: Any) -> Any:
        # moto logs and drops a Fn::GetAtt attribute it does not implement; fail instead.
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Fn::GetAtt"), list):
            name, attribute = resource_json["Fn::GetAtt"][0], resource_json["Fn::GetAtt"][1]
            resource = resources_map.get(name)
            if resource is not None and not isinstance(resource, (str, list, dict)):
                try:
                    return resource.get_cfn_attribute(attribute)
                except NotImplementedError as exc:
                    raise LocalCloudError(f"Fn::GetAtt {name}.{attribute} is not supported by the local cloud") from exc
                except UnformattedGetAttTemplateException:
                    pass
        return clean_json(resource_json, resources_map)

    def update_resource(
        logical_id: str, resource_json: Any, resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        resource_type = resource_json["Type"]
        resource_class = class_from_type(resource_type)
        if not hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__"):
            return parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
        original = resources_map._parsed_resources.get(logical_id)
        if resource_type in _KEEP_ON_UPDATE and original is not None:
            return original
        # No update in moto: replace, the way CloudFormation replaces immutable resources.
        if original is not None:
            with contextlib.suppress(Exception):  # the old physical resource may be gone already
                resources_map._delete_resource(
                    original, resources_map._resource_json_map.get(logical_id, resource_json)
                )
        return parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name)

    create_resources = Stack.create_resources
    stack_update = Stack.update

    def strict_create_resources(stack: Any) -> None:
        stack.local_cloud_failure = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check_template(stack.template_dict, stack.resource_map.lazy_condition_map)
                create_resources(stack)
                check_nothing_skipped(stack.template_dict, stack.resource_map)
                _ = stack.outputs  # moto resolves outputs lazily: a bad one must fail the deploy
        except Exception as exc:  # any failure is the stack's CREATE_FAILED, as in CloudFormation
            _fail(stack, "CREATE_FAILED", exc)
            core.delivery_errors.append(f"stack {stack.name}: {traceback.format_exc()}")

    def strict_update(
        stack: Any, template: str, role_arn: str | None = None, parameters: Any = None, tags: Any = None
    ) -> None:
        stack.local_cloud_failure = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = stack.parse_template(template)
                check_template(parsed, stack.resource_map.lazy_condition_map)
                exports.check_update(stack, parsed)
                exported = exports.exported_values(stack)
                stack_update(stack, template, role_arn, parameters, tags)
                check_nothing_skipped(stack.template_dict, stack.resource_map)
                _ = stack.outputs
                exports.check_values_kept(stack, exported)
                exports.sync(stack)
        except Exception as exc:  # any failure is the stack's UPDATE_FAILED
            _fail(stack, "UPDATE_FAILED", exc)
            core.delivery_errors.append(f"stack {stack.name}: {traceback.format_exc()}")

    def resolve_update_parameters(backend: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, Any]:
        # moto looks UsePreviousValue parameters up in the *passed* parameters only and raises
        # KeyError for one that only ever had its default (CDK's BootstrapVersion).
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
        for p in incoming_params:
            if p.get("UsePreviousValue") and p["ParameterKey"] in instance.parameters:
                parameters[p["ParameterKey"]] = instance.parameters[p["ParameterKey"]]
        return parameters

    delete_change_set = CloudFormationBackend.delete_change_set

    def safe_delete_change_set(backend: Any, change_set_name: str) -> None:
        # moto raises UnboundLocalError (HTTP 500) for an unknown change set; AWS ignores it.
        known = change_set_name in backend.change_sets or any(
            cs.change_set_name == change_set_name for cs in backend.change_sets.values()
        )
        if known:
            delete_change_set(backend, change_set_name)

    def apply_change_set(change_set: Any) -> None:
        # moto applies a change set straight to the resource map: no strict check, a new stack
        # keeps its empty template (so no outputs: `cdk bootstrap` then finds no BootstrapVersion),
        # and a failure is an HTTP 500. Go through the same create / update as CreateStack does.
        stack = change_set.stack
        if change_set.change_set_type == "CREATE":
            stack.template = change_set.template
            stack._parse_template()
            stack.parameters = change_set.parameters
            stack.resource_map = stack._create_resource_map()
            stack.output_map = stack._create_output_map()
            stack.create_resources()
        else:
            # For UsePreviousValue moto copies the *resolved* value (an SSM parameter's value, not
            # its name); give the update the value that was passed before, or none (the default).
            resolved = stack.resource_map.resolved_parameters
            parameters = {}
            for key, value in (change_set.parameters or {}).items():
                if value == resolved.get(key) and resolved.get(key) != stack.parameters.get(key):
                    if key in stack.parameters:
                        parameters[key] = stack.parameters[key]
                    continue
                parameters[key] = value
            stack.update(change_set.template, stack.role_arn, parameters=parameters)

    execute_change_set = CloudFormationBackend.execute_change_set

    def execute_change_set_keeping_failures(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
        execute_change_set(backend, change_set_name, stack_name)
        for stack in backend.stacks.values():
            failure = getattr(stack, "local_cloud_failure", None)
            if failure is not None:
                stack.status = failure
                stack.local_cloud_failure = None

    describe_change_set = CloudFormationBackend.describe_change_set

    def describe_missing_change_set(backend: Any, change_set_name: str) -> Any:
        # moto answers "Stack with id <change set> does not exist" (ValidationError); the CDK CLI
        # checks for a leftover change set and expects AWS's ChangeSetNotFound.
        try:
            return describe_change_set(backend, change_set_name)
        except ValidationError:
            raise ChangeSetNotFound(change_set_name) from None

    def delete_in_dependency_order(resource_map: Any) -> None:
        # moto deletes in set order and retries what fails; CloudFormation deletes dependents
        # first (a custom resource that empties a bucket runs before the bucket goes).
        json_map = resource_map._resource_json_map
        remaining = [
            name for name in reversed(creation_order(json_map)) if json_map[name].get("DeletionPolicy") != "Retain"
        ]
        last_error: Exception | None = None
        for _ in range(5):
            failed = []
            for name in remaining:
                parsed = resource_map._parsed_resources.get(name)
                if parsed is None or isinstance(parsed, (str, list, dict)):
                    continue
                try:
                    resource_map._delete_resource(parsed, json_map[name])
                    resource_map._parsed_resources.pop(name, None)
                except Exception as exc:  # retried: something it depends on may still be going
                    last_error = exc
                    failed.append(name)
            if not failed:
                return
            remaining = failed
        assert last_error is not None
        raise last_error

    moto_attributes.install(patcher, class_from_type)
    exports.install(patcher, _fail)
    # moto orders creation by DependsOn only and creates a Ref'd resource on first use, which skips
    # *its* DependsOn (a bucket policy -> distribution -> API stage -> deployment before the API's
    # methods): order by every reference, as CloudFormation does.
    patcher.set(
        parsing.ResourceMap,
        "_ResourceMap__get_resources_in_dependency_order",
        lambda resource_map: creation_order(resource_map._resource_json_map),
    )
    patcher.set(parsing.ResourceMap, "delete", delete_in_dependency_order)
    patcher.set(CloudFormationBackend, "describe_change_set", describe_missing_change_set)
    patcher.set(ChangeSet, "apply", apply_change_set)
    patcher.set(CloudFormationBackend, "execute_change_set", execute_change_set_keeping_failures)
    patcher.set(parsing, "resource_class_from_type", class_from_type)
    patcher.set(parsing, "clean_json", strict_clean_json)
    patcher.set(parsing, "generate_resource_name", names.generated_name)
    patcher.set(parsing, "parse_and_update_resource", update_resource)
    patcher.set(Stack, "create_resources", strict_create_resources)
    patcher.set(Stack, "update", strict_update)
    patcher.set(CloudFormationBackend, "_resolve_update_parameters", resolve_update_parameters)
    patcher.set(CloudFormationBackend, "delete_change_set", safe_delete_change_set)
