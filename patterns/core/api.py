"""REST APIs with the library defaults: access logs, execution logs, tracing, throttling,
request validation and IAM authorization unless the pattern chooses another authorizer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import nag


@dataclass(frozen=True, kw_only=True)
class ApiOptions:
    """Defaults: stage ``prod``, 100 requests/s with bursts of 50, IAM authorization, one month of
    access logs, and the account-level CloudWatch role that execution logging needs."""

    stage_name: str = "prod"
    throttling_rate_limit: float = 100
    throttling_burst_limit: int = 50
    authorization_type: apigw.AuthorizationType = apigw.AuthorizationType.IAM
    authorizer: apigw.IAuthorizer | None = None
    access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    cloud_watch_role: bool = True
    web_acl_arn: str | None = None
    #: per-method stage settings (``/path/METHOD`` → throttling...), e.g. a route's own throttle.
    method_options: Mapping[str, apigw.MethodDeploymentOptions] | None = None


def rest_api(
    scope: Construct, construct_id: str, *, description: str, options: ApiOptions | None = None
) -> apigw.RestApi:
    """A REST API whose every method defaults to the chosen authorization and validation."""
    opts = options or ApiOptions()
    if opts.authorizer is not None and opts.authorization_type == apigw.AuthorizationType.IAM:
        auth_type = opts.authorizer.authorization_type or apigw.AuthorizationType.CUSTOM
    else:
        auth_type = opts.authorization_type
    access_logs = logs.LogGroup(scope, f"{construct_id}AccessLogs", retention=opts.access_log_retention)
    api = apigw.RestApi(
        scope,
        construct_id,
        description=description,
        cloud_watch_role=opts.cloud_watch_role,
        deploy_options=apigw.StageOptions(
            stage_name=opts.stage_name,
            tracing_enabled=True,
            logging_level=apigw.MethodLoggingLevel.INFO,
            metrics_enabled=True,
            throttling_rate_limit=opts.throttling_rate_limit,
            throttling_burst_limit=opts.throttling_burst_limit,
            method_options=dict(opts.method_options) if opts.method_options else None,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
        ),
        default_method_options=apigw.MethodOptions(authorization_type=auth_type, authorizer=opts.authorizer),
        endpoint_types=[apigw.EndpointType.REGIONAL],
    )
    if opts.cloud_watch_role:
        nag.acknowledge(
            api,
            "AwsSolutions-IAM4",
            "the account-level API Gateway CloudWatch role uses AmazonAPIGatewayPushToCloudWatchLogs, "
            "the policy AWS documents for execution logging",
        )
        nag.acknowledge(
            api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "the account-level API Gateway CloudWatch role uses the AWS policy documented for execution logging",
        )
    if opts.web_acl_arn:
        from aws_cdk import aws_wafv2 as waf

        waf.CfnWebACLAssociation(
            scope, f"{construct_id}WebAcl", resource_arn=api.deployment_stage.stage_arn, web_acl_arn=opts.web_acl_arn
        )
    else:
        nag.acknowledge(
            api,
            "AwsSolutions-APIG3",
            "a WAF web ACL is account-specific; pass ApiOptions(web_acl_arn=...) to associate one",
        )
    if auth_type == apigw.AuthorizationType.IAM:
        nag.acknowledge(
            api,
            "AwsSolutions-COG4",
            "methods use IAM (SigV4) authorization, which covers service-to-service callers without a user pool",
        )
    return api


def validator(api: apigw.RestApi, construct_id: str = "Validator") -> apigw.RequestValidator:
    """Validates both body and parameters, so bad input is rejected before any code runs."""
    return api.add_request_validator(construct_id, validate_request_body=True, validate_request_parameters=True)


def json_model(api: apigw.RestApi, construct_id: str, schema: apigw.JsonSchema) -> apigw.Model:
    """A request model (JSON schema draft 4) for a method's ``application/json`` body."""
    return api.add_model(construct_id, content_type="application/json", schema=schema)


def validation_error_responses(api: apigw.RestApi) -> None:
    """Make request-validation failures say why: API Gateway's default 400 body is only
    ``{"message": "Invalid request body"}``; these gateway responses add the validator's reason."""
    template = '{"message": $context.error.messageString, "reason": "$context.error.validationErrorString"}'
    for construct_id, response_type in (
        ("BadRequestBody", apigw.ResponseType.BAD_REQUEST_BODY),
        ("BadRequestParameters", apigw.ResponseType.BAD_REQUEST_PARAMETERS),
    ):
        api.add_gateway_response(
            construct_id, type=response_type, status_code="400", templates={"application/json": template}
        )


@dataclass(frozen=True)
class ValidatedApi:
    """A REST API whose JSON bodies are validated against one model before any integration runs."""

    api: apigw.RestApi
    validator: apigw.RequestValidator
    model: apigw.Model


def validated_rest_api(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    model_id: str,
    schema: apigw.JsonSchema,
    options: ApiOptions | None = None,
) -> ValidatedApi:
    """``rest_api`` + validation errors that say why + a body-and-parameters validator + the body model."""
    api = rest_api(scope, construct_id, description=description, options=options)
    validation_error_responses(api)
    return ValidatedApi(api, validator(api), json_model(api, model_id, schema))
