"""AppSync GraphQL APIs and the Cognito user pools that sign their callers in, with the library's defaults.

An API gets X-Ray tracing, field-level error logs in a log group with retention, an API key with an
explicit expiry as its default authorization and, when a user pool is given, Cognito user pools as
an additional provider (the schema's ``@aws_*`` directives say which fields each provider may read).
A new user pool is admin-created only (no self sign-up), with a strong password policy and
case-insensitive sign-in by email.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import ArnFormat, Duration, Expiration, RemovalPolicy, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import nag, validation

#: AppSync accepts API key expiries between 1 and 365 days after creation.
API_KEY_DAYS = (1, 365)


def user_pool(scope: Construct, construct_id: str, *, props: dict[str, Any] | None = None) -> cognito.UserPool:
    """A user pool whose users an administrator creates (no self sign-up), signing in by email; ``props``
    override the defaults (a user pool ``removal_policy`` defaults to RETAIN, as CDK's does)."""
    settings: dict[str, Any] = {
        "self_sign_up_enabled": False,
        "sign_in_aliases": cognito.SignInAliases(email=True, username=True),
        "sign_in_case_sensitive": False,
        "password_policy": cognito.PasswordPolicy(
            min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
        ),
        "account_recovery": cognito.AccountRecovery.EMAIL_ONLY,
        "removal_policy": RemovalPolicy.RETAIN,
        **(props or {}),
    }
    pool = cognito.UserPool(scope, construct_id, **settings)
    nag.acknowledge_all(
        pool,
        {
            "AwsSolutions-COG2": "MFA is the app's choice (an admin-created workforce pool); the API verifies tokens "
            "whichever factors signed the user in",
            "AwsSolutions-COG3": "advanced security (threat protection) is a paid feature plan the pattern leaves to "
            "the account owner",
            "AwsSolutions-COG8": "the Plus feature plan (threat protection) is a paid choice left to the account "
            "owner; sign-in and token verification work on every plan",
        },
    )
    return pool


@jsii.implements(appsync.ISchemaConfig)
class _SchemaConfig:
    def __init__(self, api_id: str, definition: str) -> None:
        self._api_id, self._definition = api_id, definition

    @property
    def api_id(self) -> str:
        return self._api_id

    @api_id.setter
    def api_id(self, value: str) -> None:
        self._api_id = value

    @property
    def definition(self) -> str:
        return self._definition

    @definition.setter
    def definition(self, value: str) -> None:
        self._definition = value


@jsii.implements(appsync.ISchema)
class InlineSchema:
    """A schema given as text (CDK's ``SchemaFile`` reads one from a file): a pattern fills in its names."""

    def __init__(self, definition: str) -> None:
        self.definition = definition

    def bind(self, api: Any, options: Any = None) -> appsync.ISchemaConfig:
        return _SchemaConfig(api.api_id, self.definition)


def graphql_api(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    definition: appsync.Definition,
    api_key_days: int,
    user_pool: cognito.IUserPool | None,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
) -> appsync.GraphqlApi:
    """An API with the API key as default provider and, with ``user_pool``, Cognito users as an additional one."""
    validation.in_range("api_key_days", api_key_days, *API_KEY_DAYS)
    additional = []
    if user_pool is not None:
        additional.append(
            appsync.AuthorizationMode(
                authorization_type=appsync.AuthorizationType.USER_POOL,
                user_pool_config=appsync.UserPoolConfig(user_pool=user_pool),
            )
        )
    api = appsync.GraphqlApi(
        scope,
        construct_id,
        name=name,
        definition=definition,
        authorization_config=appsync.AuthorizationConfig(
            default_authorization=appsync.AuthorizationMode(
                authorization_type=appsync.AuthorizationType.API_KEY,
                api_key_config=appsync.ApiKeyConfig(
                    expires=Expiration.after(Duration.days(api_key_days)), description=f"{name} read access"
                ),
            ),
            additional_authorization_modes=additional,
        ),
        xray_enabled=True,
    )
    # Logging through the L1: the L2's log_config adds a LogRetention custom resource (a second function
    # with an AWS managed policy) where an explicit log group with retention does the same job.
    cfn_api = api.node.default_child
    assert isinstance(cfn_api, appsync.CfnGraphQLApi)
    cfn_api.log_config = appsync.CfnGraphQLApi.LogConfigProperty(
        cloud_watch_logs_role_arn=_log_role(scope, construct_id).role_arn, field_log_level="ERROR"
    )
    # AppSync writes to /aws/appsync/apis/<api id>; an explicit group keeps its retention (and goes with the stack).
    logs.LogGroup(
        scope, f"{construct_id}Logs", log_group_name=f"/aws/appsync/apis/{api.api_id}", retention=log_retention
    )
    return api


def _log_role(scope: Construct, construct_id: str) -> iam.Role:
    """The role AppSync logs with: only its own log groups (instead of the AWS managed push-to-logs policy)."""
    role = iam.Role(
        scope,
        f"{construct_id}LogsRole",
        assumed_by=iam.ServicePrincipal("appsync.amazonaws.com"),
        description="Lets AppSync write the API's field logs",
    )
    stack = Stack.of(scope)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name="/aws/appsync/apis/*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
    )
    nag.acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/appsync/apis/*]",
        "AppSync names its log group after the API id, which exists only once the API does (a cycle if the "
        "role named it); the role reaches AppSync API log groups of this account and region only",
    )
    return role


def dynamodb_source(api: appsync.GraphqlApi, construct_id: str, table: ddb.ITable) -> appsync.DynamoDbDataSource:
    """A DynamoDB data source; CDK grants the table and its indexes (``<arn>/index/*``) to its role."""
    source = api.add_dynamo_db_data_source(construct_id, table)
    resolved = Stack.of(api).resolve(table.table_arn)
    logical_id = resolved.get("Fn::GetAtt", [None])[0] if isinstance(resolved, dict) else None
    if logical_id:
        nag.acknowledge(
            source,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/index/*]",
            "CDK grants the table's secondary indexes (<table arn>/index/*) next to the table, so resolvers can "
            "query them; no other table is reachable",
        )
    return source


def lambda_source(api: appsync.GraphqlApi, construct_id: str, function: lambda_.IFunction) -> appsync.LambdaDataSource:
    """A Lambda data source; CDK grants the function's versions (``<arn>:*``) next to the function."""
    source = api.add_lambda_data_source(construct_id, function)
    resolved = Stack.of(api).resolve(function.function_arn)
    logical_id = resolved.get("Fn::GetAtt", [None])[0] if isinstance(resolved, dict) else None
    if logical_id:
        nag.acknowledge(
            source,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
            "CDK grants lambda:InvokeFunction on the function and its versions (<arn>:*); AppSync invokes the "
            "unqualified function, no other function is reachable",
        )
    return source
