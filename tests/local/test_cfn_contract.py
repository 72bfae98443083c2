"""The CloudFormation contract of the local cloud, one row per resource type it accepts.

For each type of ``cfn.supported_types()`` the row says what ``Ref`` and every ``Fn::GetAtt``
attribute return according to the CloudFormation resource reference (name, ARN, id or URL), and
the test reads them back through a template's Outputs, i.e. through the same resolution any other
resource's wiring goes through. The stack has a long name (CloudFormation allows 128 characters),
so every generated physical name must fit its service's limit. A type the local cloud starts to
accept without a row here fails ``test_every_accepted_type_has_a_row``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from patterns.local import LocalCloud
from patterns.local.models import registry as cfn
from patterns.local.models.names import RULES

ACCOUNT = "123456789012"
REGION = "us-east-1"
#: 104 characters: longer than any service name limit below 128.
STACK = "Contract-" + "a-very-long-stack-name-" * 4 + "x" * 3
Check = Callable[[str], bool]


def arn(service: str, resource: str, *, region: str = REGION) -> Check:
    """An ARN of ``service`` whose resource part starts with ``resource``."""
    prefix = f"arn:aws:{service}:{region}:{ACCOUNT if service != 's3' else ''}:{resource}"
    return lambda value: value.startswith(prefix) and len(value.split(":", 5)[5]) > 0


def exactly(expected: str) -> Check:
    return lambda value: value == expected


def matching(pattern: str) -> Check:
    return lambda value: re.fullmatch(pattern, value) is not None


def generated(resource_type: str, logical_id: str) -> Check:
    """A name CloudFormation generated: the type's form, within the service's limit."""
    rule = RULES[resource_type]

    def check(value: str) -> bool:
        if len(value) > rule.max_length or not value.startswith(rule.prefix):
            return False
        base, _, suffix = value[len(rule.prefix) :].rpartition("-")
        stack, logical = (STACK, logical_id) if not rule.lowercase else (STACK.lower(), logical_id.lower())
        if not rule.with_stack:
            return len(suffix) == 12 and logical.startswith(base) and base != ""
        stack_part, _, logical_part = base.rpartition("-")
        return (
            len(suffix) == 12 and stack.startswith(stack_part) and logical.startswith(logical_part) and stack_part != ""
        )

    return check


ANY_ID = matching(r"[A-Za-z0-9][A-Za-z0-9_.:/|$-]*")
UUID = matching(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Row:
    """One resource of the contract stack: its properties, what Ref is and what each attribute is."""

    logical_id: str
    properties: dict[str, Any]
    ref: Check
    attributes: dict[str, Check] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()


ASSUME_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ROLE_ARN = {"Fn::GetAtt": ["Role", "Arn"]}
CUSTOM_RESOURCE_CODE = (
    "import cfnresponse\n\n\n"
    "def handler(event, context):\n"
    "    cfnresponse.send(event, context, cfnresponse.SUCCESS, {'Greeting': 'hi'}, 'thing-1')\n"
)

ROWS: dict[str, Row] = {
    row_type: row
    for row_type, row in [
        (
            "AWS::IAM::Role",
            Row(
                "Role",
                {"AssumeRolePolicyDocument": ASSUME_LAMBDA},
                generated("AWS::IAM::Role", "Role"),
                {"Arn": arn("iam", "role/", region=""), "RoleId": matching(r"AROA[A-Z0-9]+")},
            ),
        ),
        (
            "AWS::IAM::Policy",
            Row("Policy", {"PolicyName": "contract", "PolicyDocument": ALLOW_ALL, "Roles": [{"Ref": "Role"}]}, ANY_ID),
        ),
        (
            "AWS::IAM::ManagedPolicy",
            Row(
                "ManagedPolicy",
                {"PolicyDocument": ALLOW_ALL},
                arn("iam", "policy/", region=""),
                {"PolicyArn": arn("iam", "policy/", region="")},
            ),
        ),
        (
            "AWS::IAM::User",
            Row("User", {}, generated("AWS::IAM::User", "User"), {"Arn": arn("iam", "user/", region="")}),
        ),
        (
            "AWS::ECR::Repository",
            Row(
                "Repository",
                {"RepositoryName": "contract-images"},
                exactly("contract-images"),
                {
                    "Arn": arn("ecr", "repository/contract-images"),
                    "RepositoryUri": exactly(f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/contract-images"),
                },
            ),
        ),
        ("AWS::KMS::Key", Row("Key", {}, UUID, {"Arn": arn("kms", "key/"), "KeyId": UUID})),
        (
            "AWS::KMS::Alias",
            Row("Alias", {"AliasName": "alias/contract", "TargetKeyId": {"Ref": "Key"}}, exactly("alias/contract")),
        ),
        (
            "AWS::Lambda::Function",
            Row(
                "Fn",
                {
                    "Code": {"ZipFile": CUSTOM_RESOURCE_CODE},
                    "Handler": "index.handler",
                    "Runtime": "python3.13",
                    "Role": ROLE_ARN,
                },
                generated("AWS::Lambda::Function", "Fn"),
                {"Arn": arn("lambda", "function:")},
            ),
        ),
        (
            "AWS::Lambda::Version",
            Row(
                "FnVersion",
                {"FunctionName": {"Ref": "Fn"}},
                matching(rf"arn:aws:lambda:{REGION}:{ACCOUNT}:function:.+:1"),
                {"Version": exactly("1"), "FunctionArn": arn("lambda", "function:")},
            ),
        ),
        (
            "AWS::Lambda::Alias",
            Row(
                "FnAlias",
                {
                    "FunctionName": {"Ref": "Fn"},
                    "FunctionVersion": {"Fn::GetAtt": ["FnVersion", "Version"]},
                    "Name": "live",
                },
                matching(rf"arn:aws:lambda:{REGION}:{ACCOUNT}:function:.+:live"),
                {"AliasArn": matching(rf"arn:aws:lambda:{REGION}:{ACCOUNT}:function:.+:live")},
            ),
        ),
        (
            "AWS::Lambda::Permission",
            Row(
                "FnPermission",
                {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                    "Principal": "sns.amazonaws.com",
                },
                ANY_ID,
            ),
        ),
        (
            "AWS::Lambda::EventSourceMapping",
            Row(
                "FnMapping",
                {"FunctionName": {"Ref": "Fn"}, "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}, "Enabled": False},
                UUID,
                {"Id": UUID, "EventSourceMappingArn": arn("lambda", "event-source-mapping:")},
            ),
        ),
        (
            "AWS::Lambda::EventInvokeConfig",
            Row(
                "FnInvokeConfig",
                {"FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 0},
                ANY_ID,
            ),
        ),
        (
            "AWS::Lambda::Url",
            Row(
                "FnUrl",
                {"TargetFunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}, "AuthType": "NONE"},
                arn("lambda", "function:"),
                {"FunctionArn": arn("lambda", "function:"), "FunctionUrl": matching(r"https?://.+")},
            ),
        ),
        (
            "AWS::Lambda::LayerVersion",
            Row(
                "Layer",
                {
                    "Content": {"S3Bucket": "contract-assets", "S3Key": "layer.zip"},
                    "CompatibleRuntimes": ["python3.13"],
                },
                arn("lambda", "layer:"),
                {"LayerVersionArn": arn("lambda", "layer:")},
            ),
        ),
        (
            "AWS::Lambda::CodeSigningConfig",
            Row(
                "Signing",
                {
                    "AllowedPublishers": {
                        "SigningProfileVersionArns": ["arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v1"]
                    }
                },
                arn("lambda", "code-signing-config:"),
                {
                    "CodeSigningConfigArn": arn("lambda", "code-signing-config:"),
                    "CodeSigningConfigId": matching(r"csc-.+"),
                },
            ),
        ),
        (
            "AWS::Logs::LogGroup",
            Row("Logs", {}, generated("AWS::Logs::LogGroup", "Logs"), {"Arn": arn("logs", "log-group:")}),
        ),
        (
            "AWS::Logs::MetricFilter",
            Row(
                "LogsFilter",
                {
                    "LogGroupName": {"Ref": "Logs"},
                    "FilterPattern": "ERROR",
                    "MetricTransformations": [{"MetricName": "Errors", "MetricNamespace": "C", "MetricValue": "1"}],
                },
                ANY_ID,
            ),
        ),
        (
            "AWS::Logs::ResourcePolicy",
            Row("LogsPolicy", {"PolicyName": "contract", "PolicyDocument": json.dumps(ALLOW_ALL)}, exactly("contract")),
        ),
        (
            "AWS::Logs::QueryDefinition",
            Row("Query", {"Name": "contract", "QueryString": "fields @message"}, UUID, {"QueryDefinitionId": UUID}),
        ),
        (
            "AWS::SQS::Queue",
            Row(
                "Queue",
                {},
                matching(r"https?://.+/123456789012/.+"),
                {
                    "Arn": arn("sqs", ""),
                    "QueueName": generated("AWS::SQS::Queue", "Queue"),
                    "QueueUrl": matching(r"https?://.+/123456789012/.+"),
                },
            ),
        ),
        (
            "AWS::SQS::QueuePolicy",
            Row(
                "QueuePolicy",
                {"Queues": [{"Ref": "Queue"}], "PolicyDocument": ALLOW_ALL},
                ANY_ID,
                {"Id": ANY_ID},
            ),
        ),
        (
            "AWS::SNS::Topic",
            Row(
                "Topic",
                {},
                arn("sns", ""),
                {"TopicArn": arn("sns", ""), "TopicName": generated("AWS::SNS::Topic", "Topic")},
            ),
        ),
        (
            "AWS::SNS::Subscription",
            Row(
                "TopicSubscription",
                {"TopicArn": {"Ref": "Topic"}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}},
                arn("sns", ""),
                {"Arn": arn("sns", "")},
            ),
        ),
        (
            "AWS::SNS::TopicPolicy",
            Row("TopicPolicy", {"Topics": [{"Ref": "Topic"}], "PolicyDocument": ALLOW_ALL}, ANY_ID, {"Id": ANY_ID}),
        ),
        (
            "AWS::DynamoDB::Table",
            Row(
                "Table",
                {
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                },
                generated("AWS::DynamoDB::Table", "Table"),
                {"Arn": arn("dynamodb", "table/"), "StreamArn": matching(r"arn:aws:dynamodb:.+:table/.+/stream/.+")},
            ),
        ),
        (
            "AWS::DynamoDB::GlobalTable",
            Row(
                "GlobalTable",
                {
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "Replicas": [{"Region": REGION}],
                },
                generated("AWS::DynamoDB::GlobalTable", "GlobalTable"),
                {
                    "Arn": arn("dynamodb", "table/"),
                    "StreamArn": matching(r"arn:aws:dynamodb:.+:table/.+/stream/.+"),
                    "TableId": ANY_ID,
                },
            ),
        ),
        (
            "AWS::Kinesis::Stream",
            Row(
                "Stream",
                {"ShardCount": 1},
                generated("AWS::Kinesis::Stream", "Stream"),
                {"Arn": arn("kinesis", "stream/")},
            ),
        ),
        (
            "AWS::KinesisFirehose::DeliveryStream",
            Row(
                "Firehose",
                {
                    "ExtendedS3DestinationConfiguration": {
                        "BucketARN": {"Fn::GetAtt": ["Bucket", "Arn"]},
                        "RoleARN": ROLE_ARN,
                    }
                },
                generated("AWS::KinesisFirehose::DeliveryStream", "Firehose"),
                {"Arn": arn("firehose", "deliverystream/")},
            ),
        ),
        (
            "AWS::S3::Bucket",
            Row(
                "Bucket",
                {},
                generated("AWS::S3::Bucket", "Bucket"),
                {
                    "Arn": matching(r"arn:aws:s3:::[a-z0-9.-]+"),
                    "DomainName": matching(r"[a-z0-9.-]+\.s3\.amazonaws\.com"),
                    "RegionalDomainName": matching(r"[a-z0-9.-]+\.s3\.us-east-1\.amazonaws\.com"),
                    "WebsiteURL": matching(r"http://[a-z0-9.-]+\.s3-website[.-]us-east-1\.amazonaws\.com"),
                },
            ),
        ),
        (
            "AWS::S3::BucketPolicy",
            Row("BucketPolicy", {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": ALLOW_ALL}, ANY_ID),
        ),
        (
            "AWS::Events::EventBus",
            Row(
                "Bus",
                {"Name": "contract-bus"},
                exactly("contract-bus"),
                {"Arn": arn("events", "event-bus/contract-bus"), "Name": exactly("contract-bus")},
            ),
        ),
        (
            "AWS::Events::Rule",
            Row(
                "BusRule",
                {
                    "EventBusName": {"Ref": "Bus"},
                    "EventPattern": {"source": ["contract"]},
                    "Targets": [{"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "Id": "queue"}],
                },
                # A rule on a custom bus: "<bus name>|<rule name>" (the resource reference's Ref).
                matching(r"contract-bus\|.+"),
                {"Arn": arn("events", "rule/contract-bus/")},
            ),
        ),
        (
            "AWS::Events::Archive",
            Row("Archive", {"SourceArn": {"Fn::GetAtt": ["Bus", "Arn"]}}, ANY_ID, {"Arn": arn("events", "archive/")}),
        ),
        (
            "AWS::Events::EventBusPolicy",
            Row(
                "BusPolicy",
                {
                    "EventBusName": {"Ref": "Bus"},
                    "StatementId": "contract",
                    "Statement": {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "events:PutEvents",
                        "Resource": {"Fn::GetAtt": ["Bus", "Arn"]},
                    },
                },
                exactly("contract"),
            ),
        ),
        (
            "AWS::Events::Connection",
            Row(
                "Connection",
                {
                    "AuthorizationType": "API_KEY",
                    "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}},
                },
                ANY_ID,
                {"Arn": arn("events", "connection/"), "SecretArn": arn("secretsmanager", "secret:")},
            ),
        ),
        (
            "AWS::Events::ApiDestination",
            Row(
                "Destination",
                {
                    "ConnectionArn": {"Fn::GetAtt": ["Connection", "Arn"]},
                    "HttpMethod": "POST",
                    "InvocationEndpoint": "https://example.com/hook",
                },
                ANY_ID,
                {"Arn": arn("events", "api-destination/")},
            ),
        ),
        (
            "AWS::CloudWatch::Alarm",
            Row(
                "Alarm",
                {
                    "MetricName": "Errors",
                    "Namespace": "AWS/Lambda",
                    "Statistic": "Sum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                },
                generated("AWS::CloudWatch::Alarm", "Alarm"),
                {"Arn": arn("cloudwatch", "alarm:")},
            ),
        ),
        (
            "AWS::CloudWatch::CompositeAlarm",
            Row(
                "Composite",
                {"AlarmName": "contract-composite", "AlarmRule": {"Fn::Sub": "ALARM(${Alarm})"}},
                exactly("contract-composite"),
                {"Arn": arn("cloudwatch", "alarm:contract-composite")},
            ),
        ),
        (
            "AWS::CloudWatch::AnomalyDetector",
            Row("Anomaly", {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Stat": "Sum"}, ANY_ID),
        ),
        (
            "AWS::CloudWatch::Dashboard",
            Row(
                "Dashboard",
                {"DashboardName": "contract", "DashboardBody": json.dumps({"widgets": []})},
                exactly("contract"),
            ),
        ),
        (
            "AWS::XRay::Group",
            Row(
                "TraceGroup",
                {"GroupName": "contract", "FilterExpression": 'service("x")'},
                arn("xray", "group/contract/"),
                {"GroupARN": arn("xray", "group/contract/")},
            ),
        ),
        (
            "AWS::XRay::SamplingRule",
            Row(
                "Sampling",
                {
                    "SamplingRule": {
                        "RuleName": "contract",
                        "Priority": 1,
                        "FixedRate": 0.1,
                        "ReservoirSize": 1,
                        "ServiceName": "*",
                        "ServiceType": "*",
                        "Host": "*",
                        "HTTPMethod": "*",
                        "URLPath": "*",
                        "ResourceARN": "*",
                        "Version": 1,
                    }
                },
                arn("xray", "sampling-rule/contract"),
                {"RuleARN": arn("xray", "sampling-rule/contract")},
            ),
        ),
        ("AWS::CDK::Metadata", Row("CDKMetadata", {"Analytics": "v2:deflate64:x"}, ANY_ID)),
        (
            "AWS::CloudFormation::WaitConditionHandle",
            Row("WaitHandle", {}, matching(r"https://.+")),
        ),
        (
            "AWS::StepFunctions::StateMachine",
            Row(
                "Machine",
                {
                    "DefinitionString": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
                    "RoleArn": ROLE_ARN,
                },
                arn("states", "stateMachine:Machine-"),
                {
                    "Arn": arn("states", "stateMachine:Machine-"),
                    "Name": generated("AWS::StepFunctions::StateMachine", "Machine"),
                },
            ),
        ),
        (
            "AWS::Scheduler::ScheduleGroup",
            Row(
                "ScheduleGroup",
                {},
                generated("AWS::Scheduler::ScheduleGroup", "ScheduleGroup"),
                {"Arn": arn("scheduler", "schedule-group/")},
            ),
        ),
        (
            "AWS::Scheduler::Schedule",
            Row(
                "Schedule",
                {
                    "ScheduleExpression": "rate(1 hour)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "RoleArn": ROLE_ARN},
                },
                generated("AWS::Scheduler::Schedule", "Schedule"),
                {"Arn": arn("scheduler", "schedule/default/")},
            ),
        ),
        (
            "AWS::Pipes::Pipe",
            Row(
                "Pipe",
                {"Source": {"Fn::GetAtt": ["Queue", "Arn"]}, "Target": {"Ref": "Topic"}, "RoleArn": ROLE_ARN},
                generated("AWS::Pipes::Pipe", "Pipe"),
                {"Arn": arn("pipes", "pipe/")},
            ),
        ),
        (
            "AWS::CloudFront::OriginAccessControl",
            Row(
                "Oac",
                {
                    "OriginAccessControlConfig": {
                        "Name": "contract",
                        "OriginAccessControlOriginType": "s3",
                        "SigningBehavior": "always",
                        "SigningProtocol": "sigv4",
                    }
                },
                matching(r"E[A-Z0-9]{13}"),
                {"Id": matching(r"E[A-Z0-9]{13}")},
            ),
        ),
        (
            "AWS::CloudFront::CachePolicy",
            Row(
                "CachePolicy",
                {
                    "CachePolicyConfig": {
                        "Name": "contract",
                        "DefaultTTL": 0,
                        "MaxTTL": 1,
                        "MinTTL": 0,
                        "ParametersInCacheKeyAndForwardedToOrigin": {
                            "EnableAcceptEncodingGzip": False,
                            "HeadersConfig": {"HeaderBehavior": "none"},
                            "CookiesConfig": {"CookieBehavior": "none"},
                            "QueryStringsConfig": {"QueryStringBehavior": "all"},
                        },
                    }
                },
                UUID,
                {"Id": UUID, "LastModifiedTime": ANY_ID},
            ),
        ),
        (
            "AWS::CloudFront::OriginRequestPolicy",
            Row(
                "OriginRequestPolicy",
                {
                    "OriginRequestPolicyConfig": {
                        "Name": "contract",
                        "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["x-trace"]},
                        "CookiesConfig": {"CookieBehavior": "none"},
                        "QueryStringsConfig": {"QueryStringBehavior": "none"},
                    }
                },
                UUID,
                {"Id": UUID, "LastModifiedTime": ANY_ID},
            ),
        ),
        (
            "AWS::CloudFront::ResponseHeadersPolicy",
            Row(
                "ResponseHeadersPolicy",
                {
                    "ResponseHeadersPolicyConfig": {
                        "Name": "contract",
                        "SecurityHeadersConfig": {"ContentTypeOptions": {"Override": True}},
                    }
                },
                UUID,
                {"Id": UUID, "LastModifiedTime": ANY_ID},
            ),
        ),
        (
            "AWS::CloudFront::Distribution",
            Row(
                "Distribution",
                {
                    "DistributionConfig": {
                        "Enabled": True,
                        "Origins": [
                            {
                                "Id": "site",
                                "DomainName": {"Fn::GetAtt": ["Bucket", "RegionalDomainName"]},
                                "S3OriginConfig": {"OriginAccessIdentity": ""},
                                "OriginAccessControlId": {"Fn::GetAtt": ["Oac", "Id"]},
                            }
                        ],
                        "DefaultCacheBehavior": {
                            "TargetOriginId": "site",
                            "ViewerProtocolPolicy": "redirect-to-https",
                            "CachePolicyId": {"Ref": "CachePolicy"},
                            "OriginRequestPolicyId": {"Ref": "OriginRequestPolicy"},
                            "ResponseHeadersPolicyId": {"Ref": "ResponseHeadersPolicy"},
                        },
                    }
                },
                matching(r"E[A-Z0-9]{13}"),
                {"Id": matching(r"E[A-Z0-9]{13}"), "DomainName": matching(r"d[a-z0-9]{13}\.cloudfront\.net")},
            ),
        ),
        (
            "AWS::SSM::Parameter",
            Row(
                "Parameter",
                {"Type": "String", "Value": "contract-value"},
                generated("AWS::SSM::Parameter", "Parameter"),
                {"Type": exactly("String"), "Value": exactly("contract-value")},
            ),
        ),
        (
            "AWS::SecretsManager::Secret",
            Row(
                "Secret",
                {
                    "GenerateSecretString": {
                        "SecretStringTemplate": '{"username":"ada"}',
                        "GenerateStringKey": "password",
                    }
                },
                arn("secretsmanager", "secret:Secret-"),
                {"Id": arn("secretsmanager", "secret:Secret-")},
            ),
        ),
        (
            "AWS::Cognito::UserPool",
            Row(
                "Pool",
                {},
                matching(r"us-east-1_[0-9A-Za-z]+"),
                {
                    "Arn": arn("cognito-idp", "userpool/us-east-1_"),
                    "ProviderName": matching(r"cognito-idp\.us-east-1\.amazonaws\.com/us-east-1_[0-9A-Za-z]+"),
                    "ProviderURL": matching(r"https://cognito-idp\.us-east-1\.amazonaws\.com/us-east-1_[0-9A-Za-z]+"),
                    "UserPoolId": matching(r"us-east-1_[0-9A-Za-z]+"),
                },
            ),
        ),
        (
            "AWS::Cognito::UserPoolClient",
            Row(
                "PoolClient",
                {"UserPoolId": {"Ref": "Pool"}, "ClientName": "web", "GenerateSecret": True},
                matching(r"[0-9a-z]{26}"),
                {"ClientId": matching(r"[0-9a-z]{26}"), "ClientSecret": ANY_ID, "Name": exactly("web")},
            ),
        ),
        (
            "AWS::Cognito::UserPoolDomain",
            Row(
                "PoolDomain",
                {"UserPoolId": {"Ref": "Pool"}, "Domain": "contract-login"},
                exactly("contract-login"),
                {
                    "CloudFrontDistribution": matching(r"[0-9a-z.]+\.(cloudfront\.net|amazoncognito\.com)"),
                    "Id": exactly("contract-login"),
                },
            ),
        ),
        (
            "AWS::Cognito::UserPoolGroup",
            Row("PoolGroup", {"UserPoolId": {"Ref": "Pool"}, "GroupName": "admins"}, exactly("admins")),
        ),
        (
            "AWS::ApiGateway::RestApi",
            Row(
                "RestApi",
                {"Name": "contract"},
                matching(r"[a-z0-9]{10}"),
                {"RootResourceId": matching(r"[a-z0-9]{10}"), "RestApiId": matching(r"[a-z0-9]{10}")},
            ),
        ),
        (
            "AWS::ApiGateway::Resource",
            Row(
                "RestResource",
                {
                    "ParentId": {"Fn::GetAtt": ["RestApi", "RootResourceId"]},
                    "PathPart": "items",
                    "RestApiId": {"Ref": "RestApi"},
                },
                matching(r"[a-z0-9]{6,10}"),
                {"ResourceId": matching(r"[a-z0-9]{6,10}")},
            ),
        ),
        (
            "AWS::ApiGateway::Method",
            Row(
                "RestMethod",
                {
                    "HttpMethod": "GET",
                    "ResourceId": {"Ref": "RestResource"},
                    "RestApiId": {"Ref": "RestApi"},
                    "AuthorizationType": "NONE",
                    "Integration": {"Type": "MOCK", "RequestTemplates": {"application/json": '{"statusCode": 200}'}},
                },
                ANY_ID,
            ),
        ),
        (
            "AWS::ApiGateway::Deployment",
            Row(
                "RestDeployment",
                {"RestApiId": {"Ref": "RestApi"}},
                matching(r"[a-z0-9]{6,10}"),
                {"DeploymentId": matching(r"[a-z0-9]{6,10}")},
                depends_on=("RestMethod",),
            ),
        ),
        (
            "AWS::ApiGateway::Stage",
            Row(
                "RestStage",
                {"RestApiId": {"Ref": "RestApi"}, "DeploymentId": {"Ref": "RestDeployment"}, "StageName": "prod"},
                exactly("prod"),
            ),
        ),
        (
            "AWS::ApiGateway::Account",
            Row("RestAccount", {"CloudWatchRoleArn": ROLE_ARN}, ANY_ID, {"Id": ANY_ID}),
        ),
        (
            "AWS::ApiGateway::RequestValidator",
            Row(
                "RestValidator",
                {"RestApiId": {"Ref": "RestApi"}, "ValidateRequestBody": True},
                ANY_ID,
                {"RequestValidatorId": ANY_ID},
            ),
        ),
        (
            "AWS::ApiGateway::Model",
            Row(
                "RestModel",
                {
                    "RestApiId": {"Ref": "RestApi"},
                    "ContentType": "application/json",
                    "Name": "Item",
                    "Schema": {"type": "object"},
                },
                exactly("Item"),
            ),
        ),
        (
            "AWS::ApiGateway::Authorizer",
            Row(
                "RestAuthorizer",
                {
                    "RestApiId": {"Ref": "RestApi"},
                    "Name": "cognito",
                    "Type": "COGNITO_USER_POOLS",
                    "ProviderARNs": [{"Fn::GetAtt": ["Pool", "Arn"]}],
                    "IdentitySource": "method.request.header.Authorization",
                },
                ANY_ID,
                {"AuthorizerId": ANY_ID},
            ),
        ),
        (
            "AWS::ApiGateway::UsagePlan",
            Row(
                "UsagePlan",
                {"ApiStages": [{"ApiId": {"Ref": "RestApi"}, "Stage": {"Ref": "RestStage"}}]},
                ANY_ID,
                {"Id": ANY_ID},
            ),
        ),
        ("AWS::ApiGateway::ApiKey", Row("ApiKey", {"Enabled": True}, ANY_ID, {"APIKeyId": ANY_ID})),
        (
            "AWS::ApiGateway::UsagePlanKey",
            Row(
                "UsagePlanKey",
                {"KeyId": {"Ref": "ApiKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "UsagePlan"}},
                ANY_ID,
                {"Id": ANY_ID},
            ),
        ),
        (
            "AWS::ApiGateway::GatewayResponse",
            Row(
                "GatewayResponse",
                {"ResponseType": "DEFAULT_4XX", "RestApiId": {"Ref": "RestApi"}},
                ANY_ID,
                {"Id": ANY_ID},
            ),
        ),
        (
            "AWS::ApiGatewayV2::Api",
            Row(
                "HttpApi",
                {"Name": "contract", "ProtocolType": "HTTP"},
                matching(r"[a-z0-9]{8,10}"),
                {
                    "ApiEndpoint": matching(r"https://[a-z0-9]{8,10}\.execute-api\..+"),
                    "ApiId": matching(r"[a-z0-9]{8,10}"),
                },
            ),
        ),
        (
            "AWS::ApiGatewayV2::Stage",
            Row(
                "HttpStage",
                {"ApiId": {"Ref": "HttpApi"}, "StageName": "$default", "AutoDeploy": True},
                exactly("$default"),
            ),
        ),
        (
            "AWS::CertificateManager::Certificate",
            Row("Certificate", {"DomainName": "contract.example.com"}, arn("acm", "certificate/")),
        ),
        (
            "AWS::ApiGateway::DomainName",
            Row(
                "RestDomain",
                {
                    "DomainName": "contract.example.com",
                    "RegionalCertificateArn": {"Ref": "Certificate"},
                    "EndpointConfiguration": {"Types": ["REGIONAL"]},
                },
                exactly("contract.example.com"),
                {
                    "RegionalDomainName": matching(r"d-[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com"),
                    "RegionalHostedZoneId": matching(r"Z[A-Z0-9]+"),
                    "DistributionDomainName": matching(r"d[a-z0-9]+\.cloudfront\.net"),
                    "DistributionHostedZoneId": exactly("Z2FDTNDATAQYW2"),
                    "DomainNameArn": exactly("arn:aws:apigateway:us-east-1::/domainnames/contract.example.com"),
                },
            ),
        ),
        (
            "AWS::ApiGateway::BasePathMapping",
            Row(
                "RestBasePath",
                {
                    "DomainName": {"Ref": "RestDomain"},
                    "BasePath": "v1",
                    "RestApiId": {"Ref": "RestApi"},
                    "Stage": {"Ref": "RestStage"},
                },
                exactly("contract.example.com/v1"),
            ),
        ),
        (
            "AWS::ApiGatewayV2::DomainName",
            Row(
                "HttpDomain",
                {
                    "DomainName": "http.contract.example.com",
                    "DomainNameConfigurations": [
                        {"CertificateArn": {"Ref": "Certificate"}, "EndpointType": "REGIONAL"}
                    ],
                },
                exactly("http.contract.example.com"),
                {
                    "RegionalDomainName": matching(r"d-[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com"),
                    "RegionalHostedZoneId": matching(r"Z[A-Z0-9]+"),
                    "DomainNameArn": exactly("arn:aws:apigateway:us-east-1::/domainnames/http.contract.example.com"),
                },
            ),
        ),
        (
            "AWS::ApiGatewayV2::ApiMapping",
            Row(
                "HttpMapping",
                {
                    "DomainName": {"Ref": "HttpDomain"},
                    "ApiId": {"Ref": "HttpApi"},
                    "Stage": {"Ref": "HttpStage"},
                    "ApiMappingKey": "orders/v2",
                },
                matching(r"[a-z0-9]{6}"),
                {"ApiMappingId": matching(r"[a-z0-9]{6}")},
            ),
        ),
        (
            "AWS::ApiGatewayV2::Integration",
            Row(
                "HttpIntegration",
                {
                    "ApiId": {"Ref": "HttpApi"},
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": {"Fn::GetAtt": ["Fn", "Arn"]},
                    "PayloadFormatVersion": "2.0",
                },
                ANY_ID,
                {"IntegrationId": ANY_ID},
            ),
        ),
        (
            "AWS::ApiGatewayV2::Route",
            Row(
                "HttpRoute",
                {
                    "ApiId": {"Ref": "HttpApi"},
                    "RouteKey": "GET /items",
                    "Target": {"Fn::Join": ["/", ["integrations", {"Ref": "HttpIntegration"}]]},
                },
                ANY_ID,
                {"RouteId": ANY_ID},
            ),
        ),
        (
            "AWS::ApiGatewayV2::Authorizer",
            Row(
                "HttpAuthorizer",
                {
                    "ApiId": {"Ref": "HttpApi"},
                    "AuthorizerType": "JWT",
                    "Name": "jwt",
                    "IdentitySource": ["$request.header.Authorization"],
                    "JwtConfiguration": {
                        "Audience": [{"Ref": "PoolClient"}],
                        "Issuer": {"Fn::GetAtt": ["Pool", "ProviderURL"]},
                    },
                },
                ANY_ID,
                {"AuthorizerId": ANY_ID},
            ),
        ),
        (
            "AWS::AppSync::GraphQLApi",
            Row(
                "GraphQl",
                {"Name": "contract", "AuthenticationType": "API_KEY"},
                arn("appsync", "apis/"),
                {
                    "ApiId": UUID,
                    "Arn": arn("appsync", "apis/"),
                    "GraphQLDns": matching(r"[0-9a-f-]+\.appsync-api\.us-east-1\.amazonaws\.com"),
                    "GraphQLUrl": matching(r"http://127\.0\.0\.1:\d+/[0-9a-f-]+/graphql"),
                    "GraphQLEndpointArn": arn("appsync", "endpoints/graphql-api/"),
                    "RealtimeDns": matching(r"[0-9a-f-]+\.appsync-realtime-api\.us-east-1\.amazonaws\.com"),
                    "RealtimeUrl": matching(r"wss://[0-9a-f-]+\.appsync-realtime-api\..+/graphql"),
                },
            ),
        ),
        (
            "AWS::AppSync::GraphQLSchema",
            Row(
                "GraphQlSchema",
                {"ApiId": {"Fn::GetAtt": ["GraphQl", "ApiId"]}, "Definition": "type Query { hello: String }"},
                matching(r"[0-9a-f-]+GraphQLSchema"),
            ),
        ),
        (
            "AWS::AppSync::DataSource",
            Row(
                "GraphQlSource",
                {"ApiId": {"Fn::GetAtt": ["GraphQl", "ApiId"]}, "Name": "local", "Type": "NONE"},
                arn("appsync", "apis/"),
                {
                    "DataSourceArn": matching(r"arn:aws:appsync:.+:apis/[0-9a-f-]+/datasources/local"),
                    "Name": exactly("local"),
                },
            ),
        ),
        (
            "AWS::AppSync::FunctionConfiguration",
            Row(
                "GraphQlFunction",
                {
                    "ApiId": {"Fn::GetAtt": ["GraphQl", "ApiId"]},
                    "Name": "hello",
                    "DataSourceName": {"Fn::GetAtt": ["GraphQlSource", "Name"]},
                    "FunctionVersion": "2018-05-29",
                    "RequestMappingTemplate": '{"version": "2018-05-29", "payload": "hi"}',
                    "ResponseMappingTemplate": "$util.toJson($ctx.result)",
                },
                matching(r"arn:aws:appsync:.+:apis/[0-9a-f-]+/functions/[a-z0-9]{26}"),
                {
                    "FunctionId": matching(r"[a-z0-9]{26}"),
                    "FunctionArn": matching(r"arn:aws:appsync:.+/functions/[a-z0-9]{26}"),
                    "DataSourceName": exactly("local"),
                    "Name": exactly("hello"),
                },
            ),
        ),
        (
            "AWS::AppSync::Resolver",
            Row(
                "GraphQlResolver",
                {
                    "ApiId": {"Fn::GetAtt": ["GraphQl", "ApiId"]},
                    "TypeName": "Query",
                    "FieldName": "hello",
                    "Kind": "PIPELINE",
                    "PipelineConfig": {"Functions": [{"Fn::GetAtt": ["GraphQlFunction", "FunctionId"]}]},
                },
                matching(r"arn:aws:appsync:.+:apis/[0-9a-f-]+/types/Query/resolvers/hello"),
                {
                    "ResolverArn": matching(r"arn:aws:appsync:.+/types/Query/resolvers/hello"),
                    "TypeName": exactly("Query"),
                    "FieldName": exactly("hello"),
                },
                ("GraphQlSchema",),
            ),
        ),
        (
            "AWS::AppSync::ApiKey",
            Row(
                "GraphQlKey",
                {"ApiId": {"Fn::GetAtt": ["GraphQl", "ApiId"]}},
                matching(r"arn:aws:appsync:.+:apis/[0-9a-f-]+/apikeys/.+"),
                {"ApiKey": ANY_ID, "ApiKeyId": ANY_ID, "Arn": matching(r"arn:aws:appsync:.+/apikeys/.+")},
            ),
        ),
        (
            "AWS::CloudFormation::CustomResource",
            Row(
                "Custom",
                {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}},
                exactly("thing-1"),
                {"Greeting": exactly("hi")},
            ),
        ),
    ]
}


def _template() -> dict[str, Any]:
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for resource_type, row in ROWS.items():
        resource: dict[str, Any] = {"Type": resource_type, "Properties": row.properties}
        if row.depends_on:
            resource["DependsOn"] = list(row.depends_on)
        resources[row.logical_id] = resource
        outputs[f"{row.logical_id}Ref"] = {"Value": {"Ref": row.logical_id}}
        for attribute in row.attributes:
            outputs[f"{row.logical_id}Att{attribute}"] = {"Value": {"Fn::GetAtt": [row.logical_id, attribute]}}
    return {"Resources": resources, "Outputs": outputs}


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[LocalCloud, Any]]:
    import io
    import zipfile

    with LocalCloud(account_id=ACCOUNT, region=REGION) as cloud:
        s3 = cloud.client("s3")
        s3.create_bucket(Bucket="contract-assets")
        layer = io.BytesIO()
        with zipfile.ZipFile(layer, "w") as archive:
            archive.writestr("python/contract_layer.py", "VALUE = 1\n")
        s3.put_object(Bucket="contract-assets", Key="layer.zip", Body=layer.getvalue())
        stack = cloud.deploy_template(_template(), STACK)
        yield cloud, stack


def test_every_accepted_type_has_a_row(deployed: tuple[LocalCloud, Any]) -> None:
    # GIVEN the types the local cloud accepts (front door models installed by the running cloud)
    accepted = cfn.supported_types()
    # THEN each has a contract row, and no row is for a type it refuses
    assert sorted(accepted - set(ROWS)) == []
    assert sorted(set(ROWS) - accepted) == []


@pytest.mark.parametrize("resource_type", sorted(ROWS))
def test_ref_and_attributes_follow_the_resource_reference(resource_type: str, deployed: tuple[LocalCloud, Any]) -> None:
    # GIVEN the contract stack, deployed
    _, stack = deployed
    row = ROWS[resource_type]
    # WHEN its outputs resolve Ref and Fn::GetAtt of the row's resource
    ref = stack.outputs[f"{row.logical_id}Ref"]
    # THEN each is the documented kind of value (and the physical id is what Ref gives)
    assert row.ref(ref), f"Ref {row.logical_id} ({resource_type}) = {ref!r}"
    assert stack.physical_id(row.logical_id) == ref
    for attribute, check in row.attributes.items():
        value = stack.outputs[f"{row.logical_id}Att{attribute}"]
        assert check(value), f"GetAtt {row.logical_id}.{attribute} ({resource_type}) = {value!r}"


@pytest.mark.parametrize("resource_type", sorted(RULES))
def test_generated_names_fit_the_service_limits(resource_type: str, deployed: tuple[LocalCloud, Any]) -> None:
    # GIVEN a 104-character stack name and a resource the template leaves unnamed
    from patterns.local.models.names import generated_name

    rule = RULES[resource_type]
    # WHEN CloudFormation's naming rule names it
    name = generated_name(resource_type, STACK, "AVeryLongLogicalIdOfAResourceABCDEF12")
    # THEN it fits the limit, keeps the random suffix and has the type's form
    assert len(name) <= rule.max_length
    assert name.startswith(rule.prefix)
    assert len(name.rpartition("-")[2]) == 12
    assert name.startswith(rule.prefix + ("contract" if rule.lowercase else "Contract")) == rule.with_stack
    if rule.lowercase:
        assert name == name.lower()


def test_fails_if_a_getatt_attribute_is_not_documented(deployed: tuple[LocalCloud, Any]) -> None:
    # GIVEN a template reading an attribute AWS::Events::EventBus does not have
    cloud, _ = deployed
    template = {
        "Resources": {"OtherBus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "other-bus"}}},
        "Outputs": {"Nope": {"Value": {"Fn::GetAtt": ["OtherBus", "QueueUrl"]}}},
    }
    # WHEN it is deployed THEN the deploy fails naming the type and the attribute
    from patterns.local import DeployError

    with pytest.raises(DeployError, match="AWS::Events::EventBus has no attribute QueueUrl"):
        cloud.deploy_template(template, "BadAttribute")


def test_fails_if_a_type_moto_models_but_the_cloud_cannot_run_is_used(deployed: tuple[LocalCloud, Any]) -> None:
    # GIVEN a resource of a type moto has a model for, with no local effect (an EC2 instance)
    cloud, _ = deployed
    template = {"Resources": {"Server": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-12345678"}}}}
    # WHEN it is deployed THEN the deploy fails naming the logical id and the type
    from patterns.local import DeployError

    with pytest.raises(DeployError, match=r"Server.*AWS::EC2::Instance"):
        cloud.deploy_template(template, "Ec2Stack")
