"""Secrets Manager secrets, SSM parameters and the dynamic references that read them at deploy.

A config stack holds a named parameter; the app stack generates a secret and gives its function
the secret's password (``secret_value_from_json`` → ``{{resolve:secretsmanager:...}}``), the
parameter through a dynamic reference (``{{resolve:ssm:...}}``) and through a parameter of type
``AWS::SSM::Parameter::Value<String>``. The function also reads the secret at run time.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import DeployError, LocalCloud

from .conftest import function, stack, synthesize

READ_CONFIG = """
import json
import os

import boto3


def handler(event, context):
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])
    return {
        "env_password": os.environ["DB_PASSWORD"],
        "runtime": json.loads(secret["SecretString"]),
        "greeting": os.environ["GREETING"],
        "greeting_param": os.environ["GREETING_PARAM"],
    }
"""


def _app(app: Any) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_secretsmanager as secretsmanager
    from aws_cdk import aws_ssm as ssm

    config = stack(app, "CompatConfig")
    ssm.StringParameter(config, "Greeting", parameter_name="/compat/greeting", string_value="hello")

    s = stack(app, "CompatSecrets")
    s.add_dependency(config)
    secret = secretsmanager.Secret(
        s,
        "DbSecret",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template=json.dumps({"username": "app"}),
            generate_string_key="password",
            exclude_punctuation=True,
        ),
    )
    reader = function(
        s,
        "ReadConfig",
        READ_CONFIG,
        environment={
            "SECRET_ARN": secret.secret_arn,
            "DB_PASSWORD": secret.secret_value_from_json("password").unsafe_unwrap(),
            "GREETING": cdk.CfnDynamicReference(cdk.CfnDynamicReferenceService.SSM, "/compat/greeting").to_string(),
            "GREETING_PARAM": ssm.StringParameter.value_for_string_parameter(s, "/compat/greeting"),
        },
    )
    secret.grant_read(reader)
    cdk.CfnOutput(s, "Reader", value=reader.function_name)
    cdk.CfnOutput(s, "SecretArn", value=secret.secret_arn)


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud) -> Iterator[tuple[LocalCloud, dict[str, str]]]:
    templates = synthesize(_app)
    cloud.deploy_template(templates["CompatConfig"], "CompatConfig")
    yield cloud, cloud.deploy_template(templates["CompatSecrets"], "CompatSecrets").outputs


def test_dynamic_references_give_the_function_the_secret_and_the_parameter(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, out = deployed
    # WHEN the function runs
    result = cloud.invoke(out["Reader"], {})
    # THEN its environment got the generated password and the parameter, resolved at deploy
    password = result["env_password"]
    assert len(password) == 32 and not set(password) & set(string.punctuation)
    assert result["runtime"] == {"username": "app", "password": password}
    assert result["greeting"] == result["greeting_param"] == "hello"
    # AND the template itself never carried the value
    stored = cloud.client("secretsmanager").get_secret_value(SecretId=out["SecretArn"])["SecretString"]
    assert json.loads(stored)["password"] == password


def test_fails_if_a_dynamic_reference_names_a_missing_parameter(deployed: tuple[LocalCloud, Any]) -> None:
    cloud, _ = deployed
    # GIVEN a template reading a parameter nobody created
    template = {
        "Resources": {
            "Copy": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "{{resolve:ssm:/nope}}"}}
        }
    }
    # WHEN it is deployed THEN the deploy fails naming the reference
    with pytest.raises(DeployError, match=r"resolve:ssm:/nope.*does not exist"):
        cloud.deploy_template(template, "MissingReference")
