"""Amazon Cognito user pools (AWS::Cognito::UserPool, UserPoolClient, UserPoolDomain, UserPoolGroup).

The pools live in moto's cognito-idp backend, so users sign up / sign in with the ordinary
cognito-idp API and get tokens signed with moto's key, which the front door's Cognito authorizers
verify (apigateway._verify_jwt). Ref and GetAtt follow the CloudFormation resource reference.
"""

from __future__ import annotations

from typing import Any

from ..errors import LocalCloudError
from .base import _LocalModel

#: UserPool properties that are not CreateUserPool parameters (or need the backend's other calls).
_NOT_POOL_CONFIG = frozenset({"UserPoolName", "EnabledMfas", "UserPoolTier"})


def _backend(account_id: str, region: str) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[account_id][region]


def _pool_id(props: Any, logical_id: str, resource_type: str) -> str:
    pool_id = props.get("UserPoolId")
    if not isinstance(pool_id, str) or not pool_id:
        raise LocalCloudError(f"{logical_id} ({resource_type}): UserPoolId is required")
    return pool_id


class UserPool(_LocalModel):
    """Ref: the pool id; GetAtt: Arn, ProviderName, ProviderURL, UserPoolId."""

    CFN_TYPE = "AWS::Cognito::UserPool"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> UserPool:
        logical_id = kwargs.get("LogicalId", resource_name)
        if props.get("LambdaConfig"):
            raise LocalCloudError(
                f"{logical_id} (AWS::Cognito::UserPool): Lambda triggers (LambdaConfig) are not run by the local cloud"
            )
        config = {k: v for k, v in props.items() if k not in _NOT_POOL_CONFIG}
        pool = _backend(account_id, region_name).create_user_pool(props.get("UserPoolName") or resource_name, config)
        provider = f"cognito-idp.{region_name}.amazonaws.com/{pool.id}"
        return cls(
            pool.id,
            {"Arn": pool.arn, "ProviderName": provider, "ProviderURL": f"https://{provider}", "UserPoolId": pool.id},
        )

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_user_pool(resource_name)


class UserPoolClient(_LocalModel):
    """Ref: the client id; GetAtt: ClientId, ClientSecret (when GenerateSecret), Name."""

    CFN_TYPE = "AWS::Cognito::UserPoolClient"
    GONE = (Exception,)

    def __init__(self, client_id: str, pool_id: str, attributes: dict[str, Any]) -> None:
        super().__init__(client_id, attributes)
        self.pool_id = pool_id

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> UserPoolClient:
        logical_id = kwargs.get("LogicalId", resource_name)
        pool_id = _pool_id(props, logical_id, cls.CFN_TYPE)
        generate = str(props.get("GenerateSecret", False)).lower() == "true"
        config = {k: v for k, v in props.items() if k not in ("UserPoolId", "GenerateSecret")}
        config.setdefault("ClientName", resource_name)
        client = _backend(account_id, region_name).create_user_pool_client(pool_id, generate, config)
        attributes = {"ClientId": client.id, "Name": config["ClientName"]}
        if generate:
            attributes["ClientSecret"] = client.secret
        return cls(client.id, pool_id, attributes)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "ClientSecret" and "ClientSecret" not in self.attributes:
            raise LocalCloudError(f"client {self._physical_id} has no secret: GetAtt ClientSecret needs GenerateSecret")
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        pool_id = (cloudformation_json.get("Properties") or {}).get("UserPoolId")
        if pool_id:
            try:
                _backend(account_id, region_name).delete_user_pool_client(pool_id, resource_name)
            except Exception:  # the pool (and with it the client) is gone already
                return

    def delete(self, account_id: str, region_name: str) -> None:
        self.delete_from_cloudformation_json(
            self._physical_id, {"Properties": {"UserPoolId": self.pool_id}}, account_id, region_name
        )


class UserPoolDomain(_LocalModel):
    """Ref: the domain; GetAtt: CloudFrontDistribution, Id."""

    CFN_TYPE = "AWS::Cognito::UserPoolDomain"
    GONE = (Exception,)

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> UserPoolDomain:
        logical_id = kwargs.get("LogicalId", resource_name)
        pool_id = _pool_id(props, logical_id, cls.CFN_TYPE)
        domain = _backend(account_id, region_name).create_user_pool_domain(
            pool_id, props["Domain"], props.get("CustomDomainConfig")
        )
        distribution = domain.to_json()["CloudFrontDistribution"]
        return cls(domain.domain, {"CloudFrontDistribution": distribution, "Id": domain.domain})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_user_pool_domain(resource_name)


class UserPoolGroup(_LocalModel):
    """Ref: the group name; no GetAtt attributes."""

    CFN_TYPE = "AWS::Cognito::UserPoolGroup"

    def __init__(self, name: str, pool_id: str) -> None:
        super().__init__(name, {})
        self.pool_id = pool_id

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> UserPoolGroup:
        logical_id = kwargs.get("LogicalId", resource_name)
        pool_id = _pool_id(props, logical_id, cls.CFN_TYPE)
        name = props.get("GroupName") or resource_name
        precedence = props.get("Precedence")
        _backend(account_id, region_name).create_group(
            pool_id,
            name,
            props.get("Description"),
            props.get("RoleArn"),
            int(precedence) if precedence is not None else None,
        )
        return cls(name, pool_id)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        pool_id = (cloudformation_json.get("Properties") or {}).get("UserPoolId")
        if pool_id:
            try:
                _backend(account_id, region_name).delete_group(pool_id, resource_name)
            except Exception:  # the pool (and with it the group) is gone already
                return

    def delete(self, account_id: str, region_name: str) -> None:
        self.delete_from_cloudformation_json(
            self._physical_id, {"Properties": {"UserPoolId": self.pool_id}}, account_id, region_name
        )
