"""CloudFormation models for the API Gateway resources CDK emits, written into moto's backends.

moto 5.2.5 models only four REST API types, and those drop most properties (a Method keeps no
request templates, integration responses, validator or authorizer; Deployment ignores stage
settings; there is no Stage at all) and it has no HTTP API (apigatewayv2) models. The local front
door serves APIs from moto's backends, so every property that changes request handling must land
there. Each model here writes through moto's backend methods (so boto3 ``get_rest_apis``,
``get_resources``, ``get_integration``, ``get_routes`` ... see the deployed API) and returns a
small handle object that moto's stack keeps for ``Ref``/``Fn::GetAtt``, in-place updates and
deletion.

:func:`install` registers the models with moto's CloudFormation parser; it is idempotent.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any, ClassVar

import moto.cloudformation.parsing as cfn_parsing
from moto.apigateway.exceptions import NotFoundException, RequestValidatorNotFound
from moto.apigateway.models import APIGatewayBackend, apigateway_backends
from moto.apigatewayv2.exceptions import (
    ApiNotFound,
    AuthorizerNotFound,
    IntegrationNotFound,
    RouteNotFound,
    StageNotFound,
)
from moto.apigatewayv2.models import ApiGatewayV2Backend, apigatewayv2_backends
from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

from .base import TypedModel

__all__ = ["MODELS", "install"]

# What deleting a child of an already deleted API raises; deletion order in moto's stack is arbitrary.
_NOT_FOUND = (
    NotFoundException,
    RequestValidatorNotFound,
    ApiNotFound,
    AuthorizerNotFound,
    IntegrationNotFound,
    RouteNotFound,
    StageNotFound,
    KeyError,
)


def _v1(account_id: str, region_name: str) -> APIGatewayBackend:
    return apigateway_backends[account_id][region_name]


def _v2(account_id: str, region_name: str) -> ApiGatewayV2Backend:
    return apigatewayv2_backends[account_id][region_name]


def _bool(value: Any, default: bool = False) -> bool:
    """CloudFormation booleans arrive as bools or as the strings "true"/"false"."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _json_text(value: Any) -> str | None:
    """Policies/schemas may be given as JSON objects in templates; API Gateway stores text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _tags(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {str(t["Key"]): str(t["Value"]) for t in value or []}


def _camel(value: Any) -> Any:
    """Turn CloudFormation PascalCase keys into the API's camelCase (nested)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _generated_name(resource_name: str) -> str:
    """An alphanumeric name from moto's generated ``stack-logicalId-suffix`` physical name."""
    return re.sub(r"[^A-Za-z0-9]", "", resource_name)[-128:] or "Generated"


def _read_s3_body(location: dict[str, Any], account_id: str) -> dict[str, Any]:
    """Load an OpenAPI definition from BodyS3Location out of moto's S3."""
    backend = s3_backends[account_id]["aws"]
    key = backend.get_object(location["Bucket"], location["Key"], version_id=location.get("Version"))
    if key is None:
        raise ValueError(f"BodyS3Location s3://{location['Bucket']}/{location['Key']} does not exist")
    import yaml  # moto dependency; OpenAPI files may be YAML or JSON

    return yaml.safe_load(key.value.decode("utf-8"))


class _Handle(TypedModel):
    """What moto's stack keeps for a resource: its Ref value, attributes, update and delete.

    Subclasses set ``CFN_TYPE`` and implement ``_create`` (returning the handle) and ``_remove``;
    ``_apply`` re-applies properties in place for types whose physical id must survive updates.
    ``ATTRIBUTES`` are the GetAtt names; each is the physical id unless ``_attribute`` says otherwise.
    """

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, account_id: str, region_name: str, physical_id: str, **ids: Any) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self._physical_id = physical_id
        self.ids = ids

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return self._attribute(attribute_name)

    def _attribute(self, name: str) -> Any:
        """An attribute of ``ATTRIBUTES``: the physical id unless a type has more to offer."""
        return self._physical_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Handle:
        return cls._create(resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: _Handle,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _Handle:
        props = cloudformation_json.get("Properties") or {}
        if original_resource._apply(props):
            return original_resource
        original_resource.delete(account_id, region_name)
        return cls._create(new_resource_name, props, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """Called by moto's stack on delete/replace; gone parents (a deleted API) are fine."""
        with contextlib.suppress(_NOT_FOUND):
            self._remove()

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        raise NotImplementedError

    def _apply(self, props: dict[str, Any]) -> bool:
        """Update in place; False means "replace" (delete and create)."""
        return False

    def _remove(self) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------
# REST APIs (AWS::ApiGateway::*)
# ------------------------------------------------------------------------------------------


class RestApiModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::RestApi incl. Policy, BinaryMediaTypes, ApiKeySourceType and an inline Body."""

    CFN_TYPE = "AWS::ApiGateway::RestApi"
    ATTRIBUTES = ("RootResourceId", "RestApiId")

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        backend = _v1(account_id, region_name)
        body = props.get("Body")
        if body is None and props.get("BodyS3Location"):
            body = _read_s3_body(props["BodyS3Location"], account_id)
        if isinstance(body, str):
            body = json.loads(body)
        name = props.get("Name") or (body or {}).get("info", {}).get("title") or resource_name
        endpoint = props.get("EndpointConfiguration") or {}
        api = backend.create_rest_api(
            name=name,
            description=props.get("Description", ""),
            api_key_source=props.get("ApiKeySourceType"),
            endpoint_configuration={"types": endpoint.get("Types") or ["EDGE"]},  # type: ignore[arg-type]
            tags=_tags(props.get("Tags")),  # type: ignore[arg-type]
            policy=_json_text(props.get("Policy")),
            minimum_compression_size=props.get("MinimumCompressionSize"),
            disable_execute_api_endpoint=_bool(props.get("DisableExecuteApiEndpoint")),
        )
        api.binaryMediaTypes = list(props.get("BinaryMediaTypes") or [])
        if body:
            backend.put_rest_api(api.id, body, fail_on_warnings=_bool(props.get("FailOnWarnings")))
        return cls(account_id, region_name, api.id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("Body") or props.get("BodyS3Location"):
            return False
        api = _v1(self.account_id, self.region_name).get_rest_api(self._physical_id)
        api.name = props.get("Name") or api.name
        api.description = props.get("Description", "")
        api.policy = _json_text(props.get("Policy"))
        api.binaryMediaTypes = list(props.get("BinaryMediaTypes") or [])
        api.api_key_source = props.get("ApiKeySourceType") or "HEADER"
        api.disableExecuteApiEndpoint = _bool(props.get("DisableExecuteApiEndpoint"))
        api.minimum_compression_size = props.get("MinimumCompressionSize")
        return True

    def _attribute(self, name: str) -> Any:
        if name == "RestApiId":
            return self._physical_id
        return _v1(self.account_id, self.region_name).get_rest_api(self._physical_id).root_resource_id

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_rest_api(self._physical_id)


class ResourceModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::Resource (a path part under a parent resource)."""

    CFN_TYPE = "AWS::ApiGateway::Resource"
    ATTRIBUTES = ("ResourceId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["RestApiId"]
        resource = _v1(account_id, region_name).create_resource(
            function_id=api_id, parent_resource_id=props["ParentId"], path_part=props["PathPart"]
        )
        return cls(account_id, region_name, resource.id, api_id=api_id)

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_resource(self.ids["api_id"], self._physical_id)


def _put_method(backend: APIGatewayBackend, props: dict[str, Any]) -> None:
    """Write a Method with its Integration, integration responses and method responses."""
    api_id, resource_id, http_method = props["RestApiId"], props["ResourceId"], props["HttpMethod"].upper()
    scopes = props.get("AuthorizationScopes")
    method = backend.put_method(
        function_id=api_id,
        resource_id=resource_id,
        method_type=http_method,
        authorization_type=props.get("AuthorizationType") or "NONE",
        api_key_required=_bool(props.get("ApiKeyRequired")),
        request_parameters={k: _bool(v) for k, v in (props.get("RequestParameters") or {}).items()},
        request_models=props.get("RequestModels"),
        operation_name=props.get("OperationName"),
        authorizer_id=props.get("AuthorizerId"),
        authorization_scopes=scopes,
        request_validator_id=props.get("RequestValidatorId"),
    )
    if scopes is not None:
        method.authorization_scopes = list(scopes)
    integration = props.get("Integration")
    if integration:
        created = backend.put_integration(
            function_id=api_id,
            resource_id=resource_id,
            method_type=http_method,
            integration_type=integration["Type"],
            uri=integration.get("Uri"),  # type: ignore[arg-type]
            integration_method=integration.get("IntegrationHttpMethod"),  # type: ignore[arg-type]
            request_templates=integration.get("RequestTemplates"),
            passthrough_behavior=integration.get("PassthroughBehavior") or "WHEN_NO_MATCH",
            tls_config=integration.get("TlsConfig"),
            cache_namespace=integration.get("CacheNamespace"),
            timeout_in_millis=integration.get("TimeoutInMillis"),
            request_parameters=integration.get("RequestParameters"),
            content_handling=integration.get("ContentHandling"),
            connection_type=integration.get("ConnectionType"),
        )
        # Set after creation: moto rejects caller-credential ARNs (arn:aws:iam::*:user/*) in put_integration.
        created.credentials = integration.get("Credentials")
        created.cache_key_parameters = list(integration.get("CacheKeyParameters") or [])
        created.connection_id = integration.get("ConnectionId")  # type: ignore[attr-defined]
        for response in integration.get("IntegrationResponses") or []:
            backend.put_integration_response(
                function_id=api_id,
                resource_id=resource_id,
                method_type=http_method,
                status_code=str(response["StatusCode"]),
                selection_pattern=response.get("SelectionPattern"),  # type: ignore[arg-type]
                response_templates=dict(response.get("ResponseTemplates") or {}),
                response_parameters=response.get("ResponseParameters"),  # type: ignore[arg-type]
                content_handling=response.get("ContentHandling"),
            )
    for response in props.get("MethodResponses") or []:
        backend.put_method_response(
            function_id=api_id,
            resource_id=resource_id,
            method_type=http_method,
            response_code=str(response["StatusCode"]),
            response_models=response.get("ResponseModels") or {},
            response_parameters={k: _bool(v) for k, v in (response.get("ResponseParameters") or {}).items()},
        )


class MethodModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::Method with everything the front door needs to handle a request."""

    CFN_TYPE = "AWS::ApiGateway::Method"

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        _put_method(_v1(account_id, region_name), props)
        api_id, resource_id, http_method = props["RestApiId"], props["ResourceId"], props["HttpMethod"].upper()
        return cls(
            account_id,
            region_name,
            f"{api_id}|{resource_id}|{http_method}",
            api_id=api_id,
            resource_id=resource_id,
            http_method=http_method,
        )

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_method(
            self.ids["api_id"], self.ids["resource_id"], self.ids["http_method"]
        )


class DeploymentModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::Deployment, incl. the stage a deployment creates via StageName/StageDescription."""

    CFN_TYPE = "AWS::ApiGateway::Deployment"
    ATTRIBUTES = ("DeploymentId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        backend = _v1(account_id, region_name)
        api_id = props["RestApiId"]
        stage_name = props.get("StageName")
        stage_props = props.get("StageDescription") or {}
        deployment = backend.create_deployment(
            function_id=api_id,
            name=stage_name,  # type: ignore[arg-type]
            description=props.get("Description", ""),
            stage_variables=stage_props.get("Variables"),
        )
        if stage_name:
            stage = backend.get_stage(api_id, stage_name)
            _apply_stage_settings(stage, stage_props)
        return cls(account_id, region_name, deployment.id, api_id=api_id, stage_name=stage_name)

    def _remove(self) -> None:
        api = _v1(self.account_id, self.region_name).get_rest_api(self.ids["api_id"])
        stage_name = self.ids.get("stage_name")
        stage = api.stages.get(stage_name) if stage_name else None
        if stage is not None and stage.deployment_id == self._physical_id:
            api.stages.pop(stage_name)  # type: ignore[arg-type]
        api.deployments.pop(self._physical_id, None)


def _method_setting_key(setting: dict[str, Any]) -> str:
    """moto keys method settings like the API's patch paths: ``*/*`` or ``~1items/GET``."""
    path = setting.get("ResourcePath") or "/*"
    method = setting.get("HttpMethod") or "*"
    path_key = "*" if path == "/*" else path.replace("/", "~1")
    return f"{path_key}/{method}"


def _apply_stage_settings(stage: Any, props: dict[str, Any]) -> None:
    """Copy Stage/StageDescription settings onto a moto Stage."""
    if "Variables" in props:
        stage.variables = dict(props.get("Variables") or {})
    if "Description" in props:
        stage.description = props["Description"]
    if "TracingEnabled" in props:
        stage.tracing_enabled = _bool(props["TracingEnabled"])
    if "CacheClusterEnabled" in props:
        stage.cache_cluster_enabled = _bool(props["CacheClusterEnabled"])
    if "CacheClusterSize" in props:
        stage.cache_cluster_size = str(props["CacheClusterSize"])
    access_log = props.get("AccessLogSetting")
    stage.access_log_settings = (
        {"destinationArn": access_log.get("DestinationArn"), "format": access_log.get("Format")} if access_log else None
    )
    settings: dict[str, Any] = {}
    keys = {
        "MetricsEnabled": "metricsEnabled",
        "LoggingLevel": "loggingLevel",
        "DataTraceEnabled": "dataTraceEnabled",
        "ThrottlingBurstLimit": "throttlingBurstLimit",
        "ThrottlingRateLimit": "throttlingRateLimit",
        "CachingEnabled": "cachingEnabled",
        "CacheTtlInSeconds": "cacheTtlInSeconds",
        "CacheDataEncrypted": "cacheDataEncrypted",
    }
    for setting in props.get("MethodSettings") or []:
        converted = stage._get_default_method_settings()
        converted.update({keys[k]: v for k, v in setting.items() if k in keys})
        settings[_method_setting_key(setting)] = converted
    # StageDescription carries the same settings flat (no MethodSettings list).
    flat = {keys[k]: v for k, v in props.items() if k in keys}
    if flat:
        converted = settings.get("*/*") or stage._get_default_method_settings()
        converted.update(flat)
        settings["*/*"] = converted
    stage.method_settings = settings
    if props.get("Tags") is not None:
        stage.tags = _tags(props.get("Tags"))


class StageModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::Stage (moto has none): deployment, variables, method settings, tracing."""

    CFN_TYPE = "AWS::ApiGateway::Stage"

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        backend = _v1(account_id, region_name)
        api_id = props["RestApiId"]
        stage_name = props.get("StageName") or _generated_name(resource_name)
        stage = backend.create_stage(
            function_id=api_id,
            stage_name=stage_name,
            deploymentId=props["DeploymentId"],
            variables=dict(props.get("Variables") or {}),
            description=props.get("Description", ""),
            cacheClusterEnabled=_bool(props.get("CacheClusterEnabled")),
            cacheClusterSize=props.get("CacheClusterSize"),
            tags=_tags(props.get("Tags")),
            tracing_enabled=_bool(props.get("TracingEnabled")),
        )
        _apply_stage_settings(stage, props)
        return cls(account_id, region_name, stage_name, api_id=api_id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("RestApiId") != self.ids["api_id"] or (props.get("StageName") or self._physical_id) != (
            self._physical_id
        ):
            return False
        stage = _v1(self.account_id, self.region_name).get_stage(self.ids["api_id"], self._physical_id)
        stage.deployment_id = props["DeploymentId"]
        _apply_stage_settings(stage, {"Variables": {}, **props})
        return True

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_stage(self.ids["api_id"], self._physical_id)


class AccountModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::Account: the CloudWatch role API Gateway logs with."""

    CFN_TYPE = "AWS::ApiGateway::Account"
    ATTRIBUTES = ("Id",)  # the physical id, as the resource reference documents

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        handle = cls(account_id, region_name, f"{account_id}-{region_name}-apigateway-account")
        handle._apply(props)
        return handle

    def _apply(self, props: dict[str, Any]) -> bool:
        _v1(self.account_id, self.region_name).account.cloudwatch_role_arn = props.get("CloudWatchRoleArn")
        return True

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).account.cloudwatch_role_arn = None


class RequestValidatorModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::RequestValidator (body and/or parameter validation)."""

    CFN_TYPE = "AWS::ApiGateway::RequestValidator"
    ATTRIBUTES = ("RequestValidatorId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["RestApiId"]
        validator = _v1(account_id, region_name).create_request_validator(
            restapi_id=api_id,
            name=props.get("Name") or _generated_name(resource_name),
            body=_bool(props.get("ValidateRequestBody")),
            params=_bool(props.get("ValidateRequestParameters")),
        )
        return cls(account_id, region_name, validator.id, api_id=api_id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("RestApiId") != self.ids["api_id"]:
            return False
        validator = _v1(self.account_id, self.region_name).get_request_validator(self.ids["api_id"], self._physical_id)
        validator.name = props.get("Name") or validator.name
        validator.validate_request_body = _bool(props.get("ValidateRequestBody"))
        validator.validate_request_parameters = _bool(props.get("ValidateRequestParameters"))
        return True

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_request_validator(self.ids["api_id"], self._physical_id)


class ModelModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::Model: a JSON schema the request validator checks bodies against."""

    CFN_TYPE = "AWS::ApiGateway::Model"

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["RestApiId"]
        name = props.get("Name") or _generated_name(resource_name)
        _v1(account_id, region_name).create_model(
            rest_api_id=api_id,
            name=name,
            content_type=props.get("ContentType") or "application/json",
            description=props.get("Description", ""),
            schema=_json_text(props.get("Schema")) or "{}",
        )
        return cls(account_id, region_name, name, api_id=api_id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("RestApiId") != self.ids["api_id"] or (props.get("Name") or self._physical_id) != (
            self._physical_id
        ):
            return False
        model = _v1(self.account_id, self.region_name).get_model(self.ids["api_id"], self._physical_id)
        model.schema = _json_text(props.get("Schema")) or "{}"
        model.content_type = props.get("ContentType") or "application/json"
        model.description = props.get("Description", "")
        return True

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_model(self.ids["api_id"], self._physical_id)


class AuthorizerModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::Authorizer: TOKEN/REQUEST Lambda authorizers and COGNITO_USER_POOLS."""

    CFN_TYPE = "AWS::ApiGateway::Authorizer"
    ATTRIBUTES = ("AuthorizerId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["RestApiId"]
        authorizer = _v1(account_id, region_name).create_authorizer(
            restapi_id=api_id, name=props.get("Name") or _generated_name(resource_name), authorizer_type=props["Type"]
        )
        handle = cls(account_id, region_name, authorizer.id, api_id=api_id)  # type: ignore[arg-type]
        handle._apply(props)
        return handle

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("RestApiId") != self.ids["api_id"]:
            return False
        authorizer = _v1(self.account_id, self.region_name).get_authorizer(self.ids["api_id"], self._physical_id)
        authorizer.name = props.get("Name") or authorizer.name
        authorizer.type = props["Type"]
        authorizer.provider_arns = props.get("ProviderARNs")
        authorizer.auth_type = props.get("AuthType")
        authorizer.authorizer_uri = props.get("AuthorizerUri")
        authorizer.authorizer_credentials = props.get("AuthorizerCredentials")
        default_source = "method.request.header.Authorization" if props["Type"] != "REQUEST" else None
        authorizer.identity_source = props.get("IdentitySource") or default_source
        # moto's create_authorizer misspells this keyword and drops it; set it directly.
        authorizer.identity_validation_expression = props.get("IdentityValidationExpression")
        ttl = props.get("AuthorizerResultTtlInSeconds")
        authorizer.authorizer_result_ttl = 300 if ttl is None else int(ttl)
        return True

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_authorizer(self.ids["api_id"], self._physical_id)


def _usage_plan_payload(props: dict[str, Any], name: str) -> dict[str, Any]:
    stages = []
    for stage in props.get("ApiStages") or []:
        entry: dict[str, Any] = {"apiId": stage["ApiId"], "stage": stage["Stage"]}
        if stage.get("Throttle"):
            entry["throttle"] = {path: _camel(settings) for path, settings in stage["Throttle"].items()}
        stages.append(entry)
    payload: dict[str, Any] = {"name": name, "description": props.get("Description"), "apiStages": stages}
    if props.get("Throttle"):
        payload["throttle"] = _camel(props["Throttle"])
    if props.get("Quota"):
        payload["quota"] = _camel(props["Quota"])
    if props.get("Tags"):
        payload["tags"] = _tags(props["Tags"])
    return payload


class UsagePlanModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::UsagePlan: which API stages API keys may call (throttle/quota recorded)."""

    CFN_TYPE = "AWS::ApiGateway::UsagePlan"
    ATTRIBUTES = ("Id",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        name = props.get("UsagePlanName") or _generated_name(resource_name)
        plan = _v1(account_id, region_name).create_usage_plan(_usage_plan_payload(props, name))
        return cls(account_id, region_name, plan.id)

    def _apply(self, props: dict[str, Any]) -> bool:
        plan = _v1(self.account_id, self.region_name).get_usage_plan(self._physical_id)
        payload = _usage_plan_payload(props, props.get("UsagePlanName") or plan.name or "")
        plan.name = payload["name"]
        plan.description = payload.get("description")
        plan.api_stages = payload["apiStages"]
        plan.throttle = payload.get("throttle") or {}
        plan.quota = payload.get("quota") or {}
        return True

    def _remove(self) -> None:
        backend = _v1(self.account_id, self.region_name)
        backend.delete_usage_plan(self._physical_id)
        backend.usage_plan_keys.pop(self._physical_id, None)


class ApiKeyModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::ApiKey."""

    CFN_TYPE = "AWS::ApiGateway::ApiKey"
    ATTRIBUTES = ("APIKeyId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        payload: dict[str, Any] = {
            "name": props.get("Name") or _generated_name(resource_name),
            "description": props.get("Description"),
            "enabled": _bool(props.get("Enabled")),
            "stageKeys": [f"{k['RestApiId']}/{k['StageName']}" for k in props.get("StageKeys") or []],
            "customerId": props.get("CustomerId"),
        }
        if props.get("Value"):
            payload["value"] = props["Value"]
        if props.get("Tags"):
            payload["tags"] = _tags(props["Tags"])
        key = _v1(account_id, region_name).create_api_key(payload)
        return cls(account_id, region_name, key.id)

    def _apply(self, props: dict[str, Any]) -> bool:
        key = _v1(self.account_id, self.region_name).get_api_key(self._physical_id)
        if props.get("Value") and props["Value"] != key.value:
            return False
        key.name = props.get("Name") or key.name
        key.description = props.get("Description")
        key.enabled = _bool(props.get("Enabled"))
        key.stage_keys = [f"{k['RestApiId']}/{k['StageName']}" for k in props.get("StageKeys") or []]
        return True

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_api_key(self._physical_id)


class UsagePlanKeyModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::UsagePlanKey: attaches an API key to a usage plan."""

    CFN_TYPE = "AWS::ApiGateway::UsagePlanKey"
    ATTRIBUTES = ("Id",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        plan_id = props["UsagePlanId"]
        _v1(account_id, region_name).create_usage_plan_key(
            plan_id, {"keyId": props["KeyId"], "keyType": props.get("KeyType") or "API_KEY"}
        )
        return cls(account_id, region_name, props["KeyId"], plan_id=plan_id)

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_usage_plan_key(self.ids["plan_id"], self._physical_id)


class GatewayResponseModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::GatewayResponse: custom status/headers/body for gateway-generated errors."""

    CFN_TYPE = "AWS::ApiGateway::GatewayResponse"
    ATTRIBUTES = ("Id",)  # the physical id, as the resource reference documents

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id, response_type = props["RestApiId"], props["ResponseType"]
        _v1(account_id, region_name).put_gateway_response(
            rest_api_id=api_id,
            response_type=response_type,
            status_code=props.get("StatusCode"),
            response_parameters=props.get("ResponseParameters"),
            response_templates=props.get("ResponseTemplates"),
        )
        return cls(account_id, region_name, f"{api_id}|{response_type}", api_id=api_id, response_type=response_type)

    def _remove(self) -> None:
        _v1(self.account_id, self.region_name).delete_gateway_response(self.ids["api_id"], self.ids["response_type"])


# ------------------------------------------------------------------------------------------
# HTTP APIs (AWS::ApiGatewayV2::*)
# ------------------------------------------------------------------------------------------


class HttpApiModel(_Handle, CloudFormationModel):
    """AWS::ApiGatewayV2::Api incl. CORS, an inline OpenAPI Body and quick create (Target)."""

    CFN_TYPE = "AWS::ApiGatewayV2::Api"
    ATTRIBUTES = ("ApiEndpoint", "ApiId")

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        backend = _v2(account_id, region_name)
        body = props.get("Body")
        if body is None and props.get("BodyS3Location"):
            body = _read_s3_body(props["BodyS3Location"], account_id)
        if isinstance(body, str):
            body = json.loads(body)
        api = backend.create_api(
            api_key_selection_expression=props.get("ApiKeySelectionExpression"),  # type: ignore[arg-type]
            cors_configuration=_camel(props.get("CorsConfiguration")),
            description=props.get("Description"),  # type: ignore[arg-type]
            disable_schema_validation=props.get("DisableSchemaValidation"),  # type: ignore[arg-type]
            disable_execute_api_endpoint=props.get("DisableExecuteApiEndpoint"),  # type: ignore[arg-type]
            name=props.get("Name") or (body or {}).get("info", {}).get("title") or resource_name,
            protocol_type=props.get("ProtocolType") or "HTTP",
            route_selection_expression=props.get("RouteSelectionExpression"),  # type: ignore[arg-type]
            tags=_tags(props.get("Tags")),
            version=props.get("Version"),  # type: ignore[arg-type]
        )
        if body:
            api.import_api(json.dumps(body), fail_on_warnings=_bool(props.get("FailOnWarnings")))
        if props.get("Target"):
            _quick_create(backend, api.api_id, props)
        return cls(account_id, region_name, api.api_id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("Body") or props.get("BodyS3Location") or props.get("Target"):
            return False
        api = _v2(self.account_id, self.region_name).get_api(self._physical_id)
        api.name = props.get("Name") or api.name
        api.description = props.get("Description")
        api.cors_configuration = _camel(props.get("CorsConfiguration"))
        api.disable_execute_api_endpoint = props.get("DisableExecuteApiEndpoint") or False
        return True

    def _attribute(self, name: str) -> Any:
        if name == "ApiId":
            return self._physical_id
        return _v2(self.account_id, self.region_name).get_api(self._physical_id).api_endpoint

    def _remove(self) -> None:
        _v2(self.account_id, self.region_name).delete_api(self._physical_id)


def _quick_create(backend: ApiGatewayV2Backend, api_id: str, props: dict[str, Any]) -> None:
    """Quick create: an integration to Target, a route (RouteKey or $default) and a $default stage."""
    integration = backend.create_integration(
        api_id=api_id,
        connection_id=None,  # type: ignore[arg-type]
        connection_type="INTERNET",
        content_handling_strategy=None,  # type: ignore[arg-type]
        credentials_arn=props.get("CredentialsArn"),  # type: ignore[arg-type]
        description="",
        integration_method="POST" if ":lambda:" in props["Target"] else "ANY",
        integration_subtype=None,  # type: ignore[arg-type]
        integration_type="AWS_PROXY" if ":lambda:" in props["Target"] else "HTTP_PROXY",
        integration_uri=props["Target"],
        passthrough_behavior=None,  # type: ignore[arg-type]
        payload_format_version="2.0" if ":lambda:" in props["Target"] else "1.0",
        request_parameters=None,
        request_templates=None,
        response_parameters=None,
        template_selection_expression=None,  # type: ignore[arg-type]
        timeout_in_millis=None,  # type: ignore[arg-type]
        tls_config=None,  # type: ignore[arg-type]
    )
    backend.create_route(
        api_id=api_id,
        api_key_required=False,
        authorization_scopes=[],
        authorization_type="NONE",
        authorizer_id=None,  # type: ignore[arg-type]
        model_selection_expression=None,  # type: ignore[arg-type]
        operation_name=None,  # type: ignore[arg-type]
        request_models=None,
        request_parameters=None,
        route_key=props.get("RouteKey") or "$default",
        route_response_selection_expression=None,  # type: ignore[arg-type]
        target=f"integrations/{integration.id}",
    )
    backend.create_stage(api_id, {"stageName": "$default", "autoDeploy": True})


def _v2_integration_args(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "connection_id": props.get("ConnectionId"),
        "connection_type": props.get("ConnectionType") or "INTERNET",
        "content_handling_strategy": props.get("ContentHandlingStrategy"),
        "credentials_arn": props.get("CredentialsArn"),
        "description": props.get("Description") or "",
        "integration_method": props.get("IntegrationMethod"),
        "integration_subtype": props.get("IntegrationSubtype"),
        "integration_type": props["IntegrationType"],
        "integration_uri": props.get("IntegrationUri"),
        "passthrough_behavior": props.get("PassthroughBehavior"),
        "payload_format_version": props.get("PayloadFormatVersion"),
        "request_parameters": props.get("RequestParameters"),
        "request_templates": props.get("RequestTemplates"),
        "response_parameters": props.get("ResponseParameters"),
        "template_selection_expression": props.get("TemplateSelectionExpression"),
        "timeout_in_millis": props.get("TimeoutInMillis"),
        "tls_config": _camel(props.get("TlsConfig")),
    }


class HttpStageModel(_Handle, CloudFormationModel):
    """AWS::ApiGatewayV2::Stage ($default or named; stage variables)."""

    CFN_TYPE = "AWS::ApiGatewayV2::Stage"

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["ApiId"]
        _v2(account_id, region_name).create_stage(api_id, cls._config(props))
        return cls(account_id, region_name, props["StageName"], api_id=api_id)

    @staticmethod
    def _config(props: dict[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {
            "stageName": props["StageName"],
            "autoDeploy": _bool(props.get("AutoDeploy")),
            "description": props.get("Description"),
            "stageVariables": dict(props.get("StageVariables") or {}),
            "accessLogSettings": _camel(props.get("AccessLogSettings")),
            "routeSettings": _camel(props.get("RouteSettings") or {}),
            "tags": _tags(props.get("Tags")),
        }
        if props.get("DefaultRouteSettings"):
            config["defaultRouteSettings"] = _camel(props["DefaultRouteSettings"])
        return config

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("ApiId") != self.ids["api_id"] or props.get("StageName") != self._physical_id:
            return False
        backend = _v2(self.account_id, self.region_name)
        backend.delete_stage(self.ids["api_id"], self._physical_id)
        backend.create_stage(self.ids["api_id"], self._config(props))
        return True

    def _remove(self) -> None:
        _v2(self.account_id, self.region_name).delete_stage(self.ids["api_id"], self._physical_id)


class HttpIntegrationModel(_Handle, CloudFormationModel):
    """AWS::ApiGatewayV2::Integration (AWS_PROXY Lambda, HTTP_PROXY, AWS service subtypes)."""

    CFN_TYPE = "AWS::ApiGatewayV2::Integration"
    ATTRIBUTES = ("IntegrationId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["ApiId"]
        integration = _v2(account_id, region_name).create_integration(api_id=api_id, **_v2_integration_args(props))
        return cls(account_id, region_name, integration.id, api_id=api_id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("ApiId") != self.ids["api_id"]:
            return False
        integration = _v2(self.account_id, self.region_name).get_integration(self.ids["api_id"], self._physical_id)
        args = _v2_integration_args(props)
        for attribute, value in args.items():
            setattr(integration, attribute, value)
        if args["timeout_in_millis"] is not None:
            integration.timeout_in_millis = int(args["timeout_in_millis"])
        return True

    def _remove(self) -> None:
        _v2(self.account_id, self.region_name).delete_integration(self.ids["api_id"], self._physical_id)


def _v2_route_args(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_key_required": _bool(props.get("ApiKeyRequired")),
        "authorization_scopes": list(props.get("AuthorizationScopes") or []),
        "authorization_type": props.get("AuthorizationType") or "NONE",
        "authorizer_id": props.get("AuthorizerId"),
        "model_selection_expression": props.get("ModelSelectionExpression"),
        "operation_name": props.get("OperationName"),
        "request_models": props.get("RequestModels"),
        "request_parameters": _camel(props.get("RequestParameters")),
        "route_key": props["RouteKey"],
        "route_response_selection_expression": props.get("RouteResponseSelectionExpression"),
        "target": props.get("Target"),
    }


class HttpRouteModel(_Handle, CloudFormationModel):
    """AWS::ApiGatewayV2::Route ("METHOD /path" or $default, target, authorization)."""

    CFN_TYPE = "AWS::ApiGatewayV2::Route"
    ATTRIBUTES = ("RouteId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["ApiId"]
        route = _v2(account_id, region_name).create_route(api_id=api_id, **_v2_route_args(props))
        return cls(account_id, region_name, route.route_id, api_id=api_id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("ApiId") != self.ids["api_id"]:
            return False
        route = _v2(self.account_id, self.region_name).get_route(self.ids["api_id"], self._physical_id)
        for attribute, value in _v2_route_args(props).items():
            setattr(route, attribute, value)
        route.request_parameters = route.request_parameters or {}
        return True

    def _remove(self) -> None:
        _v2(self.account_id, self.region_name).delete_route(self.ids["api_id"], self._physical_id)


def _v2_authorizer_args(props: dict[str, Any], name: str) -> dict[str, Any]:
    ttl = props.get("AuthorizerResultTtlInSeconds")
    return {
        "auth_creds_arn": props.get("AuthorizerCredentialsArn"),
        "auth_payload_format_version": props.get("AuthorizerPayloadFormatVersion"),
        "auth_result_ttl": 0 if ttl is None else int(ttl),
        "authorizer_type": props["AuthorizerType"],
        "authorizer_uri": props.get("AuthorizerUri"),
        "enable_simple_response": _bool(props.get("EnableSimpleResponses")),
        "identity_source": list(props.get("IdentitySource") or []),
        "identity_validation_expr": props.get("IdentityValidationExpression"),
        "jwt_config": _camel(props.get("JwtConfiguration")),
        "name": name,
    }


class HttpAuthorizerModel(_Handle, CloudFormationModel):
    """AWS::ApiGatewayV2::Authorizer (REQUEST Lambda, simple or IAM-policy responses; JWT)."""

    CFN_TYPE = "AWS::ApiGatewayV2::Authorizer"
    ATTRIBUTES = ("AuthorizerId",)

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        api_id = props["ApiId"]
        args = _v2_authorizer_args(props, props.get("Name") or _generated_name(resource_name))
        authorizer = _v2(account_id, region_name).create_authorizer(api_id=api_id, **args)
        return cls(account_id, region_name, authorizer.id, api_id=api_id)

    def _apply(self, props: dict[str, Any]) -> bool:
        if props.get("ApiId") != self.ids["api_id"]:
            return False
        authorizer = _v2(self.account_id, self.region_name).get_authorizer(self.ids["api_id"], self._physical_id)
        for attribute, value in _v2_authorizer_args(props, props.get("Name") or authorizer.name).items():
            setattr(authorizer, attribute, value)
        return True

    def _remove(self) -> None:
        _v2(self.account_id, self.region_name).delete_authorizer(self.ids["api_id"], self._physical_id)


MODELS: tuple[type[_Handle], ...] = (
    RestApiModel,
    ResourceModel,
    MethodModel,
    DeploymentModel,
    StageModel,
    AccountModel,
    RequestValidatorModel,
    ModelModel,
    AuthorizerModel,
    UsagePlanModel,
    ApiKeyModel,
    UsagePlanKeyModel,
    GatewayResponseModel,
    HttpApiModel,
    HttpStageModel,
    HttpIntegrationModel,
    HttpRouteModel,
    HttpAuthorizerModel,
)


def install() -> None:
    """Make moto's CloudFormation use these models (idempotent).

    The classes subclass moto's CloudFormationModel, which is how moto discovers models; the
    parser caches its model map, so clear the caches and check that ours won over moto's own.
    """
    for model in MODELS:
        # moto discovers models via CloudFormationModel.__subclasses__(): direct subclasses only.
        if CloudFormationModel not in model.__bases__:
            raise RuntimeError(f"{model.__name__} must subclass CloudFormationModel directly")
    for cache in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cache.cache_clear()
    model_map = cfn_parsing.get_model_map()
    for model in MODELS:
        if model_map.get(model.CFN_TYPE) is not model:
            raise RuntimeError(f"moto resolves {model.CFN_TYPE} to {model_map.get(model.CFN_TYPE)!r}, not {model!r}")
