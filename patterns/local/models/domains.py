"""CloudFormation models for API Gateway custom domain names, their mappings and ACM certificates.

On AWS one custom domain name (``api.example.com``) fronts several APIs by base path: a REST API
``BasePathMapping`` (one path segment, or the empty base path) or an API Gateway v2 ``ApiMapping``
(multi-level keys like ``orders/v2``, for HTTP *and* REST APIs; CDK's ``DomainName.add_api_mapping``
emits one for a REST API too). REST and HTTP domain names share one namespace per region, so an
``ApiMapping`` may point at a domain created as ``AWS::ApiGateway::DomainName``. moto keeps the two
apart and refuses that mix, so the mappings here are checked against both backends and written
into moto's stores directly (boto3 ``get_base_path_mappings`` / ``get_api_mappings`` see them).
The front door routes ``/<domain>/<base path>/...`` with them (frontdoor/domains.py).

Certificates: ``AWS::CertificateManager::Certificate`` becomes a moto ACM certificate, ISSUED at
once — the local cloud has no DNS, so no validation record is ever checked (on AWS a DNS-validated
certificate waits for its CNAME). Route 53 records are not modelled: a template with them fails at
deploy naming them, because a local URL (``cloud.domain_url``) replaces DNS here.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import moto.cloudformation.parsing as cfn_parsing
from moto.acm.models import acm_backends
from moto.apigateway.models import apigateway_backends
from moto.apigatewayv2.models import ApiMapping, apigatewayv2_backends
from moto.core.common_models import CloudFormationModel

from .apigateway import _Handle, _tags

__all__ = ["MODELS", "install", "mapping_key_error"]

#: The hosted zone id API Gateway gives regional custom domains of us-east-1 (docs list one per region).
_REGIONAL_ZONE = "Z1UJRXOUMOOFQ8"
#: CloudFront's hosted zone id, which edge-optimized custom domains alias to.
_CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"


def _domain_exists(account_id: str, region_name: str, domain_name: str) -> bool:
    return (
        domain_name in apigateway_backends[account_id][region_name].domain_names
        or domain_name in apigatewayv2_backends[account_id][region_name].domain_names
    )


def _api_stage_exists(account_id: str, region_name: str, api_id: str, stage: str) -> bool:
    rest = apigateway_backends[account_id][region_name].apis.get(api_id)
    if rest is not None:
        return stage in rest.stages
    http = apigatewayv2_backends[account_id][region_name].apis.get(api_id)
    return http is not None and stage in http.stages


def mapping_key_error(key: str) -> str | None:
    """Why API Gateway refuses an API mapping key (None: it is valid)."""
    if key.startswith("/") or key.endswith("/") or "//" in key:
        return f"API mapping key {key!r} must not start or end with '/' nor hold '//'"
    return None


def _taken(account_id: str, region_name: str, domain_name: str, base_path: str) -> bool:
    """True if ``base_path`` (``""``: the empty base path) is mapped on the domain already."""
    v1 = apigateway_backends[account_id][region_name].base_path_mappings.get(domain_name) or {}
    if (base_path or "(none)") in v1:
        return True
    v2 = apigatewayv2_backends[account_id][region_name].api_mappings.values()
    return any(m.domain_name == domain_name and (m.api_mapping_key or "") == base_path for m in v2)


class RestDomainNameModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::DomainName (REGIONAL or EDGE); Ref is the domain name."""

    CFN_TYPE = "AWS::ApiGateway::DomainName"
    ATTRIBUTES = (
        "DistributionDomainName",
        "DistributionHostedZoneId",
        "RegionalDomainName",
        "RegionalHostedZoneId",
        "DomainNameArn",
    )

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        name = props.get("DomainName")
        if not name:
            raise ValueError("AWS::ApiGateway::DomainName needs DomainName (the local cloud does not generate one)")
        if _domain_exists(account_id, region_name, name):
            raise ValueError(f"the custom domain name {name} already exists")
        endpoint = (props.get("EndpointConfiguration") or {}).get("Types") or ["EDGE"]
        apigateway_backends[account_id][region_name].create_domain_name(
            domain_name=name,
            certificate_name="",
            tags=_tags(props.get("Tags")),  # type: ignore[arg-type]
            certificate_arn=props.get("CertificateArn"),  # type: ignore[arg-type]
            certificate_body="",
            certificate_private_key="",
            certificate_chain="",
            regional_certificate_name="",
            regional_certificate_arn=props.get("RegionalCertificateArn"),  # type: ignore[arg-type]
            endpoint_configuration={"types": list(endpoint)},
            security_policy=props.get("SecurityPolicy"),  # type: ignore[arg-type]
        )
        return cls(account_id, region_name, name)

    def _attribute(self, name: str) -> Any:
        domain = apigateway_backends[self.account_id][self.region_name].get_domain_name(self._physical_id)
        return {
            "DistributionDomainName": domain.distribution_domain_name,
            "DistributionHostedZoneId": _CLOUDFRONT_ZONE,
            "RegionalDomainName": domain.regional_domain_name,
            "RegionalHostedZoneId": _REGIONAL_ZONE,
            "DomainNameArn": f"arn:aws:apigateway:{self.region_name}::/domainnames/{self._physical_id}",
        }[name]

    def _remove(self) -> None:
        backend = apigateway_backends[self.account_id][self.region_name]
        backend.delete_domain_name(self._physical_id)
        backend.base_path_mappings.pop(self._physical_id, None)


class HttpDomainNameModel(_Handle, CloudFormationModel):
    """AWS::ApiGatewayV2::DomainName; Ref is the domain name."""

    CFN_TYPE = "AWS::ApiGatewayV2::DomainName"
    ATTRIBUTES = ("RegionalDomainName", "RegionalHostedZoneId", "DomainNameArn")

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        name = props.get("DomainName")
        if not name:
            raise ValueError("AWS::ApiGatewayV2::DomainName needs DomainName")
        if _domain_exists(account_id, region_name, name):
            raise ValueError(f"the custom domain name {name} already exists")
        configurations = [
            {"certificateArn": c.get("CertificateArn"), "endpointType": c.get("EndpointType") or "REGIONAL"}
            for c in props.get("DomainNameConfigurations") or []
        ]
        apigatewayv2_backends[account_id][region_name].create_domain_name(
            domain_name=name,
            domain_name_configurations=configurations,
            mutual_tls_authentication=props.get("MutualTlsAuthentication") or {},
            tags=_tags(props.get("Tags")),
        )
        return cls(account_id, region_name, name, token=hashlib.sha256(name.encode()).hexdigest()[:10])

    def _attribute(self, name: str) -> Any:
        return {
            "RegionalDomainName": f"d-{self.ids['token']}.execute-api.{self.region_name}.amazonaws.com",
            "RegionalHostedZoneId": _REGIONAL_ZONE,
            "DomainNameArn": f"arn:aws:apigateway:{self.region_name}::/domainnames/{self._physical_id}",
        }[name]

    def _remove(self) -> None:
        apigatewayv2_backends[self.account_id][self.region_name].delete_domain_name(self._physical_id)


class BasePathMappingModel(_Handle, CloudFormationModel):
    """AWS::ApiGateway::BasePathMapping: one segment (or the empty base path) → a REST API stage."""

    CFN_TYPE = "AWS::ApiGateway::BasePathMapping"

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        domain, api_id = props["DomainName"], props.get("RestApiId")
        base_path, stage = props.get("BasePath") or "", props.get("Stage")
        backend = apigateway_backends[account_id][region_name]
        if domain not in backend.domain_names:
            raise ValueError(f"BasePathMapping: no AWS::ApiGateway::DomainName {domain} is deployed")
        if "/" in base_path:
            raise ValueError(
                f"BasePathMapping: base path {base_path!r} has a '/'; multi-level base paths are "
                "AWS::ApiGatewayV2::ApiMapping resources (CDK: DomainName.add_api_mapping)"
            )
        if not api_id or api_id not in backend.apis:
            raise ValueError(f"BasePathMapping: no REST API {api_id} is deployed")
        if stage and stage not in backend.apis[api_id].stages:
            raise ValueError(f"BasePathMapping: REST API {api_id} has no stage {stage}")
        if _taken(account_id, region_name, domain, base_path):
            raise ValueError(f"BasePathMapping: base path {base_path or '(none)'!r} of {domain} is mapped already")
        mapping = backend.create_base_path_mapping(domain, api_id, base_path, stage)  # type: ignore[arg-type]
        return cls(account_id, region_name, f"{domain}/{mapping.base_path}", domain=domain, key=mapping.base_path)

    def _remove(self) -> None:
        backend = apigateway_backends[self.account_id][self.region_name]
        (backend.base_path_mappings.get(self.ids["domain"]) or {}).pop(self.ids["key"], None)


class ApiMappingModel(_Handle, CloudFormationModel):
    """AWS::ApiGatewayV2::ApiMapping: a (multi-level) key → an HTTP or REST API stage; Ref is its id."""

    CFN_TYPE = "AWS::ApiGatewayV2::ApiMapping"
    ATTRIBUTES = ("ApiMappingId",)
    _SEQUENCE: ClassVar[list[int]] = [0]

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        domain, api_id, stage = props["DomainName"], props["ApiId"], props["Stage"]
        key = props.get("ApiMappingKey") or ""
        if not _domain_exists(account_id, region_name, domain):
            raise ValueError(f"ApiMapping: no custom domain name {domain} is deployed")
        problem = mapping_key_error(key)
        if problem:
            raise ValueError(f"ApiMapping: {problem}")
        if not _api_stage_exists(account_id, region_name, api_id, stage):
            raise ValueError(f"ApiMapping: no API {api_id} with a stage {stage} is deployed")
        if _taken(account_id, region_name, domain, key):
            raise ValueError(f"ApiMapping: key {key or '(none)'!r} of {domain} is mapped already")
        cls._SEQUENCE[0] += 1
        mapping_id = hashlib.sha256(f"{domain}/{key}/{cls._SEQUENCE[0]}".encode()).hexdigest()[:6]
        mapping = ApiMapping(
            api_id=api_id, api_mapping_key=key, api_mapping_id=mapping_id, domain_name=domain, stage=stage
        )
        apigatewayv2_backends[account_id][region_name].api_mappings[mapping_id] = mapping
        return cls(account_id, region_name, mapping_id)

    def _remove(self) -> None:
        apigatewayv2_backends[self.account_id][self.region_name].api_mappings.pop(self._physical_id, None)


class CertificateModel(_Handle, CloudFormationModel):
    """AWS::CertificateManager::Certificate as a moto ACM certificate, ISSUED without DNS validation."""

    CFN_TYPE = "AWS::CertificateManager::Certificate"

    @classmethod
    def _create(cls, resource_name: str, props: dict[str, Any], account_id: str, region_name: str) -> _Handle:
        backend = acm_backends[account_id][region_name]
        arn = backend.request_certificate(
            domain_name=props["DomainName"],
            idempotency_token=None,  # type: ignore[arg-type]
            subject_alt_names=list(props.get("SubjectAlternativeNames") or []),
            tags=[{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in props.get("Tags") or []],
            cert_authority_arn=props.get("CertificateAuthorityArn"),
        )
        backend.get_certificate(arn).status = "ISSUED"  # no DNS here to validate against
        return cls(account_id, region_name, arn)

    def _remove(self) -> None:
        acm_backends[self.account_id][self.region_name].delete_certificate(self._physical_id)


MODELS: tuple[type[_Handle], ...] = (
    RestDomainNameModel,
    HttpDomainNameModel,
    BasePathMappingModel,
    ApiMappingModel,
    CertificateModel,
)


def install() -> None:
    """Make moto's CloudFormation use these models (idempotent), as models/apigateway.install does."""
    for cache in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cache.cache_clear()
    model_map = cfn_parsing.get_model_map()
    for model in MODELS:
        if model_map.get(model.CFN_TYPE) is not model:
            raise RuntimeError(f"moto resolves {model.CFN_TYPE} to {model_map.get(model.CFN_TYPE)!r}, not {model!r}")
