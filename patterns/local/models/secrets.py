"""AWS::SecretsManager::Secret, with GenerateSecretString as Secrets Manager documents it."""

from __future__ import annotations

import json
from typing import Any

from ..errors import LocalCloudError
from .base import _LocalModel


def generate_secret_string(spec: dict[str, Any], account_id: str, region: str) -> str:
    """A random password, alone or as ``GenerateStringKey`` inside ``SecretStringTemplate``."""
    from moto.secretsmanager.models import secretsmanager_backends

    password = json.loads(
        secretsmanager_backends[account_id][region].get_random_password(
            password_length=int(spec.get("PasswordLength", 32)),
            exclude_characters=spec.get("ExcludeCharacters", ""),
            exclude_numbers=_flag(spec, "ExcludeNumbers"),
            exclude_punctuation=_flag(spec, "ExcludePunctuation"),
            exclude_uppercase=_flag(spec, "ExcludeUppercase"),
            exclude_lowercase=_flag(spec, "ExcludeLowercase"),
            include_space=_flag(spec, "IncludeSpace"),
            require_each_included_type=str(spec.get("RequireEachIncludedType", True)).lower() == "true",
        )
    )["RandomPassword"]
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise LocalCloudError("GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither")
    if template is None:
        return str(password)
    document = json.loads(template)
    document[key] = password
    return json.dumps(document)


def _flag(spec: dict[str, Any], key: str) -> bool:
    return str(spec.get(key, False)).lower() == "true"


class Secret(_LocalModel):
    """A secret. Ref: its ARN; GetAtt: Id (the ARN too)."""

    CFN_TYPE = "AWS::SecretsManager::Secret"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> Secret:
        from moto.secretsmanager.models import secretsmanager_backends

        logical_id = kwargs.get("LogicalId", resource_name)
        if "SecretString" in props and "GenerateSecretString" in props:
            raise LocalCloudError(
                f"{logical_id} (AWS::SecretsManager::Secret): SecretString and GenerateSecretString are exclusive"
            )
        if "GenerateSecretString" in props:
            value = generate_secret_string(props["GenerateSecretString"], account_id, region_name)
        else:
            value = props.get("SecretString")
        created = json.loads(
            secretsmanager_backends[account_id][region_name].create_secret(
                name=props.get("Name") or resource_name,
                secret_string=value,
                secret_binary=None,
                description=props.get("Description"),
                tags=props.get("Tags"),
                kms_key_id=props.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=props.get("ReplicaRegions") or [],
                force_overwrite=False,
            )
        )
        return cls(created["ARN"], {"Id": created["ARN"]})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.secretsmanager.models import secretsmanager_backends

        secretsmanager_backends[account_id][region_name].delete_secret(
            resource_name, recovery_window_in_days=None, force_delete_without_recovery=True
        )
