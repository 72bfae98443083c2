"""CATALOG 18 — WebAppWithApi: a single-page app in a private bucket and its API behind one CloudFront
distribution (same origin, so no CORS).

``/`` and every other path go to the bucket through an origin access control (the bucket blocks all
public access and its policy admits only this distribution), with the SPA fallback: the bucket's
403/404 for a client-side route answers ``/index.html`` with 200. ``/api/*`` goes to a regional REST
API (the stage is the origin path, so ``/api/items`` is the API's ``/api/items``), never cached, with
every viewer header but Host forwarded. Every answer carries the security headers policy (HSTS,
nosniff, frame denial, referrer policy and a same-origin content security policy); viewers are
redirected to HTTPS. The site is deployed from a folder by a BucketDeployment, which invalidates
the distribution.

The distribution's error responses apply to every behaviour (CloudFront has no per-behaviour
ones): an API 403/404 would reach the browser as the SPA page. The default handler therefore
answers only 200, 201 and 400.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=18,
    name="WebAppWithApi",
    construct="WebAppWithApi",
    module="patterns.web_app_with_api",
    demo_stack="WebAppWithApiDemo",
    handlers=("web_app_with_api",),
    family="APIs and edges",
    summary="SPA in a private bucket (OAC) and a regional API behind one CloudFront distribution: same origin, "
    "SPA fallback, security headers",
)

#: The body of ``POST /api/items`` for the default handler (lambdas/web_app_with_api/models.py, same limits).
ITEM_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="NewItem",
    type=apigw.JsonSchemaType.OBJECT,
    required=["name"],
    additional_properties=False,
    properties={"name": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=100)},
)

#: Scripts, styles, images and API calls only from the distribution itself; no framing.
DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_API_PATH = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: Table actions the default handler performs; nothing else is granted.
TABLE_ACTIONS = ("dynamodb:PutItem", "dynamodb:Scan")
#: The default SPA: a page that lists and adds items through ``/api/items``.
DEFAULT_SITE = "site"


class WebAppWithApi(Construct):
    """A static SPA and its item API under one CloudFront distribution.

    :param site_dir: the folder deployed to the bucket (it must hold ``index.html``). Default: the
        bundled demo SPA (``lambdas/web_app_with_api/site``).
    :param existing_bucket: serve the site from this bucket (it must not be public). Default: a new
        private, encrypted, versioned, access-logged bucket; mutually exclusive with ``bucket_props``.
    :param bucket_props: overrides for the new bucket (not its privacy). Default: none.
    :param existing_table: store items in this table (partition key ``id``, string). Default: a new
        table; mutually exclusive with ``table_props``.
    :param table_props: overrides for the new table. Default: none.
    :param handler_code: your own API handler. Default: ``lambdas/web_app_with_api`` (its ``site``
        folder left out).
    :param handler: the handler entry point. Default: ``app.handler``.
    :param api_path: the first path part routed to the API (``/api/*``). Default: ``api``.
    :param max_items: the most items ``GET /api/items`` returns. Default: 100.
    :param content_security_policy: the Content-Security-Policy header of every answer. Default:
        ``DEFAULT_CONTENT_SECURITY_POLICY`` (same origin only).
    :param price_class: the distribution's edge locations. Default: ``PRICE_CLASS_100``.
    :param api_options: stage, throttling, authorization. Default: ``core.ApiOptions`` without
        authorization (a public page calls the API; throttling still applies).
    :param function_options: memory, timeout, log retention... Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.

    Attributes: ``bucket``, ``access_logs`` (None with an existing bucket), ``table``, ``function``,
    ``api``, ``distribution``, ``response_headers_policy``, ``deployment``, ``alarms``, ``url``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site_dir: str | None = None,
        existing_bucket: s3.IBucket | None = None,
        bucket_props: dict[str, Any] | None = None,
        existing_table: ddb.ITable | None = None,
        table_props: dict[str, Any] | None = None,
        handler_code: lambda_.Code | None = None,
        handler: str = "app.handler",
        api_path: str = "api",
        max_items: int = 100,
        content_security_policy: str = DEFAULT_CONTENT_SECURITY_POLICY,
        price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100,
        api_options: core.ApiOptions | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _API_PATH.match(api_path):
            raise ValueError(
                f"api_path must be one lowercase path part of letters, digits and dashes starting with a letter, "
                f"like 'api' (given {api_path!r})"
            )
        core.validation.in_range("max_items", max_items, 1, 1000)
        if not content_security_policy.strip():
            raise ValueError("content_security_policy must not be empty: every answer carries it")
        site = Path(site_dir) if site_dir is not None else core.handler_dir("web_app_with_api") / DEFAULT_SITE
        if not (site / "index.html").is_file():
            raise ValueError(f"site_dir must be a folder holding index.html (given {str(site)!r})")

        self.access_logs: s3.Bucket | None = None if existing_bucket is not None else core.access_log_bucket(self)
        self.bucket: s3.IBucket = core.bucket(
            self, "Site", existing_bucket=existing_bucket, bucket_props=bucket_props,
            server_access_logs=self.access_logs,
        )
        self.table: ddb.ITable = core.table(
            self, "Table", partition_key="id", existing_table=existing_table, table_props=table_props
        )
        self.function: lambda_.Function = core.python_function(
            self, "Handler",
            code=handler_code or core.handler_code("web_app_with_api", exclude=(DEFAULT_SITE,)),
            handler=handler,
            service="web-app-with-api",
            invocation="sync",
            description=f"GET and POST /{api_path}/items for the web app",
            options=function_options,
            environment={"TABLE_NAME": self.table.table_name, "API_PATH": api_path, "MAX_ITEMS": str(max_items)},
        )
        self.table.grant(self.function, *TABLE_ACTIONS)

        options = api_options or core.ApiOptions(authorization_type=apigw.AuthorizationType.NONE)
        validated = core.validated_rest_api(
            self, "Api", description="WebAppWithApi: the web app's item API", options=options,
            model_id="NewItemModel", schema=ITEM_SCHEMA,
        )
        self.api: apigw.RestApi = validated.api
        if options.authorization_type == apigw.AuthorizationType.NONE and options.authorizer is None:
            core.nag.acknowledge_all(self.api, {
                "AwsSolutions-APIG4": "the web app's page calls this API anonymously through the distribution; "
                "the stage throttles it. Pass api_options with an authorizer to require sign-in",
                "AwsSolutions-COG4": "the web app is public (no user pool); pass api_options with a Cognito "
                "authorizer to require sign-in",
            })
        integration = apigw.LambdaIntegration(self.function, allow_test_invoke=False)
        items = self.api.root.add_resource(api_path).add_resource("items")
        items.add_method(
            "POST", integration, request_validator=validated.validator,
            request_models={"application/json": validated.model},
        )
        items.add_method("GET", integration, request_validator=validated.validator)

        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self, "SecurityHeaders",
            comment="Security headers on every answer of the web app",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730), include_subdomains=True, preload=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=True),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            comment="WebAppWithApi: the SPA and its API under one origin",
            default_root_object="index.html",
            price_class=price_class,
            enable_logging=self.access_logs is not None,
            log_bucket=self.access_logs,
            log_file_prefix="distribution/",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.response_headers_policy,
            ),
            additional_behaviors={
                f"/{api_path}/*": cloudfront.BehaviorOptions(
                    origin=origins.RestApiOrigin(self.api),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=self.response_headers_policy,
                ),
            },
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=status, response_http_status=200, response_page_path="/index.html",
                    ttl=Duration.seconds(0),
                )
                for status in (403, 404)
            ],
        )
        core.nag.acknowledge_all(self.distribution, {
            "AwsSolutions-CFR1": "geo restrictions are a business decision of the app's owner, not a pattern default",
            "AwsSolutions-CFR2": "a WAF web ACL for CloudFront is account-specific (us-east-1); associate one "
            "with the distribution where the account has it",
            "AwsSolutions-CFR4": "the default *.cloudfront.net certificate cannot pin TLSv1.2; with a custom domain "
            "and certificate minimum_protocol_version TLSv1.2_2021 applies",
        })
        self.deployment = s3deploy.BucketDeployment(
            self, "Deployment",
            sources=[s3deploy.Source.asset(str(site), exclude=core.ASSET_EXCLUDE)],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
        )
        _acknowledge_deployment_handler(self, self.bucket)

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Handler": self.function}
        ).alarms

    @property
    def url(self) -> str:
        """``https://<distribution domain>``: the page and, under ``/api``, its API."""
        return f"https://{self.distribution.distribution_domain_name}"


def _acknowledge_deployment_handler(scope: Construct, bucket: s3.IBucket) -> None:
    """The BucketDeployment's provider is a CDK singleton function at the stack's root; its role may
    read the asset bucket and write (and prune) the site bucket, as CDK grants it."""
    from aws_cdk import CfnResource, Stack

    stack = Stack.of(scope)
    findings = dict(_DEPLOYMENT_HANDLER_FINDINGS)
    default_child = bucket.node.default_child
    if isinstance(default_child, CfnResource):
        logical_id = stack.resolve(stack.get_logical_id(default_child))
        findings[f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]"] = (
            "CDK's BucketDeployment provider writes and prunes every object of the site bucket"
        )
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            core.nag.acknowledge_all(child, findings)


_DEPLOYMENT_HANDLER_FINDINGS = {
    "AwsSolutions-IAM4": "CDK's BucketDeployment provider uses AWSLambdaBasicExecutionRole for its logs",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]":
        "CDK's BucketDeployment provider uses AWSLambdaBasicExecutionRole for its logs",
    "AwsSolutions-IAM5": "CDK's BucketDeployment provider copies every object of the asset into the site bucket",
    **{
        f"AwsSolutions-IAM5[Action::{action}]": "CDK's BucketDeployment provider reads the asset and writes, "
        "lists and prunes the site bucket with the actions aws-cdk-lib grants it"
        for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")
    },
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]":
        "CDK's BucketDeployment provider reads the site's zip from the bootstrap asset bucket",
    "AwsSolutions-IAM5[Resource::*]": "CDK's BucketDeployment provider invalidates the distribution "
    "(cloudfront:CreateInvalidation takes no resource-level permission in aws-cdk-lib's grant)",
    "AwsSolutions-L1": "the BucketDeployment provider's runtime is chosen by aws-cdk-lib, not by this pattern",
    "Serverless-LambdaDLQ": "the BucketDeployment provider runs synchronously for CloudFormation, which "
    "reports its failures",
    "Serverless-LambdaTracing": "the BucketDeployment provider is CDK's deploy-time function; it serves no requests",
    "Serverless-LambdaDefaultMemorySize": "the BucketDeployment provider's memory is set by aws-cdk-lib",
    "Serverless-LambdaLatestVersion": "the BucketDeployment provider's runtime is chosen by aws-cdk-lib",
    "Serverless-LambdaDefaultTimeout": "the BucketDeployment provider's timeout is set by aws-cdk-lib",
    "Serverless-LambdaLogGroupRetention": "the BucketDeployment provider's log group is created by aws-cdk-lib",
}
