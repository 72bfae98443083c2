"""AWS AppSync GraphQL APIs (GraphQLApi, GraphQLSchema, DataSourceConfig, Resolver, FunctionConfiguration, ApiKey).

moto stores GraphQL APIs, their schema text and API keys (so ``appsync`` API calls see them) but
has no data sources, resolvers or functions and executes nothing. These models keep the APIs in
moto's backend and attach what the front door needs to execute queries (``api.local_state``):
the schema definition, data sources, resolvers and pipeline functions, each checked at deploy.

Strict: what the front door cannot run fails here, naming the logical id, the type and the
feature: APPSYNC_JS resolvers and functions (``Runtime``/``Code``), data source types other than
AMAZON_DYNAMODB, AWS_LAMBDA and NONE, OPENID_CONNECT and AWS_LAMBDA authorization, caching,
conflict detection (``SyncConfig``), batching, merged APIs and query depth / resolver count limits.
Ref and GetAtt follow the CloudFormation resource reference of each type.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import LocalCloudError
from .base import _LocalModel

#: The authorization types the front door verifies (OPENID_CONNECT / AWS_LAMBDA need an identity
#: provider or a Lambda authorizer it does not run).
AUTH_TYPES = ("API_KEY", "AMAZON_COGNITO_USER_POOLS", "AWS_IAM")
#: The data source types the front door runs.
DATA_SOURCE_TYPES = ("AMAZON_DYNAMODB", "AWS_LAMBDA", "NONE")

_API_PROPERTIES = frozenset(
    {
        "Name",
        "AuthenticationType",
        "AdditionalAuthenticationProviders",
        "UserPoolConfig",
        "LogConfig",
        "XrayEnabled",
        "Tags",
        "Visibility",
        "IntrospectionConfig",
        "OwnerContact",
        "ApiType",
        "EnhancedMetricsConfig",
    }
)
_RESOLVER_UNSUPPORTED = {
    "Runtime": "APPSYNC_JS resolvers (Runtime)",
    "Code": "APPSYNC_JS resolvers (Code)",
    "CodeS3Location": "APPSYNC_JS resolvers (CodeS3Location)",
    "CachingConfig": "resolver caching (CachingConfig)",
    "SyncConfig": "conflict detection (SyncConfig)",
    "MaxBatchSize": "batch invocation (MaxBatchSize)",
}


@dataclasses.dataclass
class DataSourceConfig:
    name: str
    type: str
    table_name: str = ""
    function_arn: str = ""
    region: str = ""


@dataclasses.dataclass
class FunctionConfig:
    """A pipeline function (FunctionConfiguration): its data source and VTL templates."""

    function_id: str
    name: str
    data_source: str
    request_template: str | None
    response_template: str | None


@dataclasses.dataclass
class ResolverConfig:
    """A UNIT resolver (a data source) or a PIPELINE resolver (functions between before/after templates)."""

    type_name: str
    field_name: str
    kind: str
    data_source: str | None
    request_template: str | None
    response_template: str | None
    functions: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ApiState:
    """What the front door reads to execute a query on one API."""

    account_id: str
    region: str
    authentication_type: str
    user_pool: dict[str, Any] | None
    additional: list[dict[str, Any]]
    introspection: bool = True
    definition: str | None = None
    data_sources: dict[str, DataSourceConfig] = dataclasses.field(default_factory=dict)
    resolvers: dict[tuple[str, str], ResolverConfig] = dataclasses.field(default_factory=dict)
    functions: dict[str, FunctionConfig] = dataclasses.field(default_factory=dict)


def _backend(account_id: str, region: str) -> Any:
    from moto.appsync.models import appsync_backends

    return appsync_backends[account_id][region]


def find_api(account_id: str, region: str, api_id: str) -> Any:
    """The moto GraphqlAPI with that id (deployed by these models), or None."""
    api = _backend(account_id, region).graphql_apis.get(api_id)
    return api if api is not None and getattr(api, "local_state", None) is not None else None


def _api(logical_id: str, resource_type: str, props: Any, account_id: str, region: str) -> Any:
    api_id = props.get("ApiId")
    api = _backend(account_id, region).graphql_apis.get(api_id) if isinstance(api_id, str) else None
    if api is None or getattr(api, "local_state", None) is None:
        raise LocalCloudError(f"{logical_id} ({resource_type}): no GraphQL API {api_id!r} in the local cloud")
    return api


def _check_auth(logical_id: str, provider: Any, where: str) -> None:
    kind = (provider or {}).get("AuthenticationType")
    if kind not in AUTH_TYPES:
        raise LocalCloudError(
            f"{logical_id} (AWS::AppSync::GraphQLApi): {where} authorization {kind!r} is not supported by the "
            f"local cloud (it verifies {', '.join(AUTH_TYPES)})"
        )
    if kind == "AMAZON_COGNITO_USER_POOLS" and not (provider.get("UserPoolConfig") or {}).get("UserPoolId"):
        raise LocalCloudError(
            f"{logical_id} (AWS::AppSync::GraphQLApi): {where} user pool authorization needs UserPoolConfig"
        )


def _s3_text(logical_id: str, resource_type: str, location: str, account_id: str) -> str:
    """The text of an ``s3://bucket/key`` object in the local cloud's S3 (schemas and templates as assets)."""
    from moto.s3.models import s3_backends

    if not location.startswith("s3://") or "/" not in location[5:]:
        raise LocalCloudError(f"{logical_id} ({resource_type}): not an s3:// location: {location!r}")
    bucket, key = location[5:].split("/", 1)
    try:
        backend = s3_backends[account_id]["aws"]
        return bytes(backend.get_object(bucket, key).value).decode("utf-8")
    except Exception as exc:  # missing bucket / key: the deploy fails as AppSync's would
        raise LocalCloudError(f"{logical_id} ({resource_type}): cannot read {location}: {exc}") from exc


def _template(logical_id: str, resource_type: str, props: Any, kind: str, account_id: str) -> str | None:
    inline = props.get(f"{kind}MappingTemplate")
    if inline is not None:
        return str(inline)
    location = props.get(f"{kind}MappingTemplateS3Location")
    return _s3_text(logical_id, resource_type, location, account_id) if location else None


def _refuse(logical_id: str, resource_type: str, props: Any, table: dict[str, str]) -> None:
    for prop, feature in table.items():
        if props.get(prop) not in (None, "", {}, []):
            raise LocalCloudError(f"{logical_id} ({resource_type}): {feature} is not supported by the local cloud")


class GraphQLApi(_LocalModel):
    """Ref: the API's ARN; GetAtt: ApiId, Arn, GraphQLDns, GraphQLUrl, GraphQLEndpointArn, RealtimeDns, RealtimeUrl.

    GraphQLUrl is the front door's URL of the API (``<front door>/<api id>/graphql``) when the local
    cloud serves one, so stack outputs and functions reach the local API."""

    CFN_TYPE = "AWS::AppSync::GraphQLApi"
    GONE = (Exception,)

    def __init__(self, api: Any, attributes: dict[str, Any]) -> None:
        super().__init__(api.arn, attributes)
        self.api_id = api.api_id

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> GraphQLApi:
        from ..context import active

        logical_id = kwargs.get("LogicalId", resource_name)
        unknown = sorted(set(props) - _API_PROPERTIES)
        if unknown:
            raise LocalCloudError(
                f"{logical_id} ({cls.CFN_TYPE}): {', '.join(unknown)} not supported by the local cloud"
            )
        if props.get("ApiType", "GRAPHQL") != "GRAPHQL":
            raise LocalCloudError(f"{logical_id} ({cls.CFN_TYPE}): merged APIs are not supported by the local cloud")
        _check_auth(logical_id, props, "default")
        additional = list(props.get("AdditionalAuthenticationProviders") or [])
        for provider in additional:
            _check_auth(logical_id, provider, "additional")
        api = _backend(account_id, region_name).create_graphql_api(
            name=props.get("Name") or resource_name,
            log_config=props.get("LogConfig"),
            authentication_type=props["AuthenticationType"],
            user_pool_config=props.get("UserPoolConfig"),
            open_id_connect_config=None,
            additional_authentication_providers=additional,
            xray_enabled=props.get("XrayEnabled"),
            lambda_authorizer_config=None,
            tags={t["Key"]: t["Value"] for t in props.get("Tags") or []},
            visibility=props.get("Visibility"),
        )
        api.local_state = ApiState(
            account_id=account_id,
            region=region_name,
            authentication_type=props["AuthenticationType"],
            user_pool=props.get("UserPoolConfig"),
            additional=additional,
            introspection=props.get("IntrospectionConfig", "ENABLED") != "DISABLED",
        )
        dns = f"{api.api_id}.appsync-api.{region_name}.amazonaws.com"
        core = active()
        front_door = getattr(core, "front_door_url", None) if core is not None else None
        url = f"{front_door}/{api.api_id}/graphql" if front_door else f"https://{dns}/graphql"
        realtime = f"{api.api_id}.appsync-realtime-api.{region_name}.amazonaws.com"
        return cls(
            api,
            {
                "ApiId": api.api_id,
                "Arn": api.arn,
                "GraphQLDns": dns,
                "GraphQLUrl": url,
                "GraphQLEndpointArn": f"arn:aws:appsync:{region_name}:{account_id}:endpoints/graphql-api/{api.api_id}",
                "RealtimeDns": realtime,
                "RealtimeUrl": f"wss://{realtime}/graphql",
            },
        )

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).graphql_apis.pop(self.api_id, None)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = _backend(account_id, region_name)
        for api_id, api in list(backend.graphql_apis.items()):
            if resource_name in (api.arn, api_id):
                backend.graphql_apis.pop(api_id, None)


class GraphQLSchema(_LocalModel):
    """Ref: ``<api id>GraphQLSchema``; the definition inline or from S3, validated with graphql-core at deploy."""

    CFN_TYPE = "AWS::AppSync::GraphQLSchema"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> GraphQLSchema:
        from .appsync_schema import build

        logical_id = kwargs.get("LogicalId", resource_name)
        api = _api(logical_id, cls.CFN_TYPE, props, account_id, region_name)
        if props.get("Definition") is not None:
            definition = str(props["Definition"])
        elif props.get("DefinitionS3Location"):
            definition = _s3_text(logical_id, cls.CFN_TYPE, str(props["DefinitionS3Location"]), account_id)
        else:
            raise LocalCloudError(f"{logical_id} ({cls.CFN_TYPE}): Definition or DefinitionS3Location is required")
        try:
            build(definition)
        except Exception as exc:  # AppSync rejects the schema: the deploy fails
            raise LocalCloudError(f"{logical_id} ({cls.CFN_TYPE}): invalid schema: {exc}") from exc
        api.start_schema_creation(definition.encode("utf-8"))
        api.local_state.definition = definition
        return cls(f"{api.api_id}GraphQLSchema", {})


class DataSourceModel(_LocalModel):
    """Ref: the data source's ARN; GetAtt: DataSourceArn, Name."""

    CFN_TYPE = "AWS::AppSync::DataSource"

    def __init__(self, arn: str, attributes: dict[str, Any], api: Any, name: str) -> None:
        super().__init__(arn, attributes)
        self.api, self.name = api, name

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> DataSourceModel:
        logical_id = kwargs.get("LogicalId", resource_name)
        api = _api(logical_id, cls.CFN_TYPE, props, account_id, region_name)
        kind, name = props.get("Type"), str(props.get("Name") or resource_name)
        if kind not in DATA_SOURCE_TYPES:
            raise LocalCloudError(
                f"{logical_id} ({cls.CFN_TYPE}): data source type {kind!r} is not supported by the local cloud "
                f"(it runs {', '.join(DATA_SOURCE_TYPES)})"
            )
        source = DataSourceConfig(name=name, type=kind)
        if kind == "AMAZON_DYNAMODB":
            config = props.get("DynamoDBConfig") or {}
            _refuse(
                logical_id,
                cls.CFN_TYPE,
                config,
                {"DeltaSyncConfig": "Delta Sync", "Versioned": "versioned data sources"},
            )
            if str(config.get("UseCallerCredentials", "false")).lower() == "true":
                raise LocalCloudError(
                    f"{logical_id} ({cls.CFN_TYPE}): UseCallerCredentials is not supported by the local cloud"
                )
            source.table_name, source.region = (
                str(config.get("TableName", "")),
                str(config.get("AwsRegion") or region_name),
            )
            if not source.table_name:
                raise LocalCloudError(f"{logical_id} ({cls.CFN_TYPE}): DynamoDBConfig.TableName is required")
        elif kind == "AWS_LAMBDA":
            source.function_arn = str((props.get("LambdaConfig") or {}).get("LambdaFunctionArn", ""))
            if not source.function_arn:
                raise LocalCloudError(f"{logical_id} ({cls.CFN_TYPE}): LambdaConfig.LambdaFunctionArn is required")
        api.local_state.data_sources[name] = source
        arn = f"{api.arn}/datasources/{name}"
        return cls(arn, {"DataSourceArn": arn, "Name": name}, api, name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.api.local_state.data_sources.pop(self.name, None)


class ResolverModel(_LocalModel):
    """Ref: the resolver's ARN; GetAtt: ResolverArn, TypeName, FieldName."""

    CFN_TYPE = "AWS::AppSync::Resolver"

    def __init__(self, arn: str, attributes: dict[str, Any], api: Any, key: tuple[str, str]) -> None:
        super().__init__(arn, attributes)
        self.api, self.key = api, key

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> ResolverModel:
        logical_id = kwargs.get("LogicalId", resource_name)
        api = _api(logical_id, cls.CFN_TYPE, props, account_id, region_name)
        _refuse(logical_id, cls.CFN_TYPE, props, _RESOLVER_UNSUPPORTED)
        state: ApiState = api.local_state
        kind = props.get("Kind", "UNIT")
        resolver = ResolverConfig(
            type_name=str(props["TypeName"]),
            field_name=str(props["FieldName"]),
            kind=kind,
            data_source=props.get("DataSourceName"),
            request_template=_template(logical_id, cls.CFN_TYPE, props, "Request", account_id),
            response_template=_template(logical_id, cls.CFN_TYPE, props, "Response", account_id),
        )
        if kind == "PIPELINE":
            resolver.functions = [str(f) for f in (props.get("PipelineConfig") or {}).get("Functions") or []]
            missing = [f for f in resolver.functions if f not in state.functions]
            if missing:
                raise LocalCloudError(f"{logical_id} ({cls.CFN_TYPE}): unknown pipeline functions {missing}")
        elif kind == "UNIT":
            _check_source(logical_id, cls.CFN_TYPE, state, resolver.data_source, resolver.request_template)
        else:
            raise LocalCloudError(f"{logical_id} ({cls.CFN_TYPE}): resolver kind {kind!r} is unknown")
        key = (resolver.type_name, resolver.field_name)
        state.resolvers[key] = resolver
        arn = f"{api.arn}/types/{key[0]}/resolvers/{key[1]}"
        return cls(arn, {"ResolverArn": arn, "TypeName": key[0], "FieldName": key[1]}, api, key)

    def delete(self, account_id: str, region_name: str) -> None:
        self.api.local_state.resolvers.pop(self.key, None)


class FunctionConfiguration(_LocalModel):
    """Ref: the function's ARN; GetAtt: FunctionId, FunctionArn, DataSourceName, Name."""

    CFN_TYPE = "AWS::AppSync::FunctionConfiguration"

    def __init__(self, arn: str, attributes: dict[str, Any], api: Any, function_id: str) -> None:
        super().__init__(arn, attributes)
        self.api, self.function_id = api, function_id

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> FunctionConfiguration:
        from moto.moto_api._internal import mock_random

        logical_id = kwargs.get("LogicalId", resource_name)
        api = _api(logical_id, cls.CFN_TYPE, props, account_id, region_name)
        _refuse(logical_id, cls.CFN_TYPE, props, _RESOLVER_UNSUPPORTED)
        state: ApiState = api.local_state
        function = FunctionConfig(
            function_id=mock_random.get_random_string(26, lower_case=True),
            name=str(props.get("Name") or resource_name),
            data_source=str(props.get("DataSourceName", "")),
            request_template=_template(logical_id, cls.CFN_TYPE, props, "Request", account_id),
            response_template=_template(logical_id, cls.CFN_TYPE, props, "Response", account_id),
        )
        _check_source(logical_id, cls.CFN_TYPE, state, function.data_source, function.request_template)
        state.functions[function.function_id] = function
        arn = f"{api.arn}/functions/{function.function_id}"
        attributes = {
            "FunctionId": function.function_id,
            "FunctionArn": arn,
            "DataSourceName": function.data_source,
            "Name": function.name,
        }
        return cls(arn, attributes, api, function.function_id)

    def delete(self, account_id: str, region_name: str) -> None:
        self.api.local_state.functions.pop(self.function_id, None)


class ApiKey(_LocalModel):
    """Ref: the key's ARN; GetAtt: ApiKey (the key itself), ApiKeyId, Arn. ``Expires`` (epoch seconds) is enforced."""

    CFN_TYPE = "AWS::AppSync::ApiKey"

    def __init__(self, arn: str, attributes: dict[str, Any], api: Any, key_id: str) -> None:
        super().__init__(arn, attributes)
        self.api, self.key_id = api, key_id

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> ApiKey:
        logical_id = kwargs.get("LogicalId", resource_name)
        api = _api(logical_id, cls.CFN_TYPE, props, account_id, region_name)
        expires = props.get("Expires")
        if expires is None:  # AppSync's default: 7 days after creation, rounded down to the hour
            expires = int(clock() // 3600 * 3600 + 7 * 24 * 3600)
        key = api.create_api_key(props.get("Description", ""), int(float(expires)))
        arn = f"{api.arn}/apikeys/{key.key_id}"
        return cls(arn, {"ApiKey": key.key_id, "ApiKeyId": key.key_id, "Arn": arn}, api, key.key_id)

    def delete(self, account_id: str, region_name: str) -> None:
        self.api.api_keys.pop(self.key_id, None)


def clock() -> float:
    """The local cloud's clock (virtual time included), or the wall clock outside one."""
    import time

    from ..context import active

    core = active()
    engine = getattr(core, "engine", None) if core is not None else None
    return float(engine.clock()) if engine is not None else time.time()


def _check_source(logical_id: str, resource_type: str, state: ApiState, name: str | None, request: str | None) -> None:
    source = state.data_sources.get(name or "")
    if source is None:
        raise LocalCloudError(f"{logical_id} ({resource_type}): no data source {name!r} on the API")
    if request is None and source.type != "AWS_LAMBDA":
        raise LocalCloudError(
            f"{logical_id} ({resource_type}): a {source.type} data source needs a request mapping template "
            "(only Lambda data sources resolve directly)"
        )


MODELS: tuple[type[_LocalModel], ...] = (
    GraphQLApi,
    GraphQLSchema,
    DataSourceModel,
    ResolverModel,
    FunctionConfiguration,
    ApiKey,
)
