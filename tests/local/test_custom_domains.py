"""Custom domain names with base path mappings: several stacks' APIs under one local base URL.

One CDK app, synthesized once: two REST APIs and an HTTP API in their own stacks, and an entry
stack holding the custom domain ``api.example.com`` (ACM certificate, REST ``BasePathMapping``s and
multi-level v2 ``ApiMapping``s to the HTTP API and to a REST API) plus a v2 domain
``shop.example.com``. The mappings reference the API stacks; this bare ``App()`` (no cdk.json
context) makes CDK wire them with exports and ``Fn::ImportValue`` (the demo app's weak references,
``Fn::GetStackOutput``, are covered by tests/local/test_cross_stack.py and the Microservices e2e).
Each function echoes what API Gateway passed it, so the tests see the base path stripped for
routing and kept in ``path`` / ``rawPath`` as AWS passes them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from patterns.local import DeployError, LocalCloud, LocalCloudError

from .apigateway_fixtures import new_stack, synthesize

ECHO = """
import json


def handler(event, context):
    context_ = event.get("requestContext") or {}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({
        "api": context_.get("apiId"), "stage": context_.get("stage"), "path": event.get("path"),
        "rawPath": event.get("rawPath"), "resource": event.get("resource"), "routeKey": event.get("routeKey"),
        "contextPath": context_.get("path") or (context_.get("http") or {}).get("path"),
        "domainName": context_.get("domainName"), "domainPrefix": context_.get("domainPrefix"),
    })}
"""
STACKS = ["DomainOrders", "DomainRoot", "DomainCatalog", "DomainEntry"]


def _build(app: Any) -> list[str]:
    from aws_cdk import CfnOutput
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_apigatewayv2 as apigwv2
    from aws_cdk import aws_certificatemanager as acm
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration

    def echo(stack: Any) -> Any:
        return lambda_.Function(
            stack,
            "Echo",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline(ECHO),
        )

    orders_stack, root_stack = new_stack(app, "DomainOrders"), new_stack(app, "DomainRoot")
    orders = apigw.LambdaRestApi(orders_stack, "Api", handler=echo(orders_stack))
    root = apigw.LambdaRestApi(root_stack, "Api", handler=echo(root_stack))
    catalog_stack = new_stack(app, "DomainCatalog")
    catalog = apigwv2.HttpApi(
        catalog_stack, "Api", default_integration=HttpLambdaIntegration("Echo", echo(catalog_stack))
    )

    entry = new_stack(app, "DomainEntry")
    certificate = acm.Certificate(entry, "Certificate", domain_name="api.example.com")
    domain = apigw.DomainName(
        entry,
        "Domain",
        domain_name="api.example.com",
        certificate=certificate,
        endpoint_type=apigw.EndpointType.REGIONAL,
    )
    domain.add_base_path_mapping(orders, base_path="orders")
    domain.add_base_path_mapping(root)  # the empty base path: whatever no other mapping takes
    domain.add_base_path_mapping(orders, base_path="catalog")  # shorter than catalog/v2 below
    domain.add_api_mapping(root.deployment_stage, base_path="legacy/v1/api")  # a v2 ApiMapping to a REST API
    apigwv2.CfnApiMapping(
        entry,
        "CatalogV2",
        domain_name=domain.domain_name,
        api_id=catalog.api_id,
        stage="$default",
        api_mapping_key="catalog/v2",
    ).node.add_dependency(domain)
    shop = apigwv2.DomainName(entry, "Shop", domain_name="shop.example.com", certificate=certificate)
    apigwv2.ApiMapping(entry, "ShopStore", api=catalog, domain_name=shop, api_mapping_key="store")
    CfnOutput(entry, "BaseUrl", value=f"https://{domain.domain_name}")
    CfnOutput(entry, "RegionalDomainName", value=domain.domain_name_alias_domain_name)
    return STACKS


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[LocalCloud, dict[str, Any]]]:
    templates = synthesize(_build)
    with LocalCloud() as cloud:
        stacks = {name: cloud.deploy_template(templates[name], name) for name in STACKS}
        yield cloud, stacks


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _api_id(stacks: dict[str, Any], stack: str, resource_type: str) -> str:
    return str(stacks[stack].resources_of_type(resource_type)[0].physical_id)


def test_a_rest_api_answers_under_its_base_path_which_routing_strips(deployed) -> None:
    # GIVEN the orders REST API mapped at /orders of api.example.com
    cloud, stacks = deployed
    base = cloud.domain_url("api.example.com")
    # WHEN a path below the base path is requested
    status, body = _get(f"{base}/orders/items/42?x=1")
    # THEN the orders API answers: routed on /items/42, the event keeps the full path as AWS passes it
    assert status == 200
    assert body["api"] == _api_id(stacks, "DomainOrders", "AWS::ApiGateway::RestApi")
    assert (body["resource"], body["path"], body["contextPath"]) == (
        "/{proxy+}",
        "/orders/items/42",
        "/orders/items/42",
    )
    assert (body["stage"], body["domainName"], body["domainPrefix"]) == ("prod", "api.example.com", "api")
    # AND the base path alone reaches the API's root resource
    status, body = _get(f"{base}/orders")
    assert (status, body["resource"], body["path"]) == (200, "/", "/orders")


def test_the_longest_multi_level_base_path_wins_and_reaches_an_http_api(deployed) -> None:
    # GIVEN catalog (REST) and catalog/v2 (HTTP API) on the same domain
    cloud, stacks = deployed
    base = cloud.domain_url("api.example.com")
    # WHEN /catalog/v2/... and /catalog/... are requested
    v2_status, v2 = _get(f"{base}/catalog/v2/products/7")
    v1_status, v1 = _get(f"{base}/catalog/products/7")
    # THEN catalog/v2 goes to the HTTP API (rawPath with the mapping key), catalog to the REST API
    assert v2_status == 200 and v2["api"] == _api_id(stacks, "DomainCatalog", "AWS::ApiGatewayV2::Api")
    assert (v2["routeKey"], v2["rawPath"], v2["stage"]) == ("$default", "/catalog/v2/products/7", "$default")
    assert v1_status == 200 and v1["api"] == _api_id(stacks, "DomainOrders", "AWS::ApiGateway::RestApi")
    assert v1["path"] == "/catalog/products/7"


def test_a_multi_level_api_mapping_reaches_a_rest_api(deployed) -> None:
    # GIVEN legacy/v1/api, a v2 ApiMapping (CDK's add_api_mapping) to the root REST API's stage
    cloud, stacks = deployed
    # WHEN a path below it is requested
    status, body = _get(f"{cloud.domain_url('api.example.com')}/legacy/v1/api/things/9")
    # THEN the REST API routes /things/9 and its event keeps the full path
    assert status == 200 and body["api"] == _api_id(stacks, "DomainRoot", "AWS::ApiGateway::RestApi")
    assert (body["resource"], body["path"], body["stage"]) == ("/{proxy+}", "/legacy/v1/api/things/9", "prod")


def test_paths_no_base_path_takes_go_to_the_empty_base_path(deployed) -> None:
    # GIVEN the root REST API mapped at the empty base path
    cloud, stacks = deployed
    base = cloud.domain_url("api.example.com")
    root_api = _api_id(stacks, "DomainRoot", "AWS::ApiGateway::RestApi")
    # WHEN a path matching no base path (ordersx is not orders; catalog/v2x is not catalog/v2) is requested
    answers = [_get(f"{base}/{path}") for path in ("ordersx/1", "anything", "")]
    partial = _get(f"{base}/catalog/v2x")
    # THEN the root API answers each, with its path untouched
    assert [(s, b["api"], b["path"]) for s, b in answers] == [
        (200, root_api, "/ordersx/1"),
        (200, root_api, "/anything"),
        (200, root_api, "/"),
    ]
    assert partial[1]["api"] == _api_id(stacks, "DomainOrders", "AWS::ApiGateway::RestApi")  # catalog, then v2x


def test_fails_if_no_base_path_matches_and_there_is_no_empty_one(deployed) -> None:
    # GIVEN shop.example.com, a v2 domain with only the "store" mapping
    cloud, _ = deployed
    base = cloud.domain_url("shop.example.com")
    # WHEN its mapping and then an unmapped path are requested
    mapped = _get(f"{base}/store/cart")
    unmapped = _get(f"{base}/nope/cart")
    # THEN the mapping answers, and the unmapped path gets API Gateway's 403
    assert mapped[0] == 200 and (mapped[1]["rawPath"], mapped[1]["domainPrefix"]) == ("/store/cart", "shop")
    assert unmapped == (403, {"message": "Forbidden"})


def test_host_style_requests_reach_the_domain_too(deployed) -> None:
    # GIVEN the front door's port
    cloud, _ = deployed
    port = cloud.front_door_url.rsplit(":", 1)[1]  # type: ignore[union-attr]
    # WHEN a client sends Host: api.example.com.localhost
    status, body = _get(f"http://127.0.0.1:{port}/orders/items", {"Host": f"api.example.com.localhost:{port}"})
    # THEN it is served as https://api.example.com/orders/items
    assert (status, body["path"], body["domainName"]) == (200, "/orders/items", "api.example.com")


def test_the_mappings_certificate_and_outputs_are_what_aws_apis_report(deployed) -> None:
    # GIVEN the entry stack, deployed
    cloud, stacks = deployed
    outputs = stacks["DomainEntry"].outputs
    # THEN API Gateway lists the mappings, ACM the issued certificate, and the outputs name the domain
    paths = {
        m["basePath"] for m in cloud.client("apigateway").get_base_path_mappings(domainName="api.example.com")["items"]
    }
    assert paths == {"orders", "(none)", "catalog"}
    keys = {
        m["ApiMappingKey"] for m in cloud.client("apigatewayv2").get_api_mappings(DomainName="api.example.com")["Items"]
    }
    assert keys == {"catalog/v2", "legacy/v1/api"}
    certificate = stacks["DomainEntry"].resources_of_type("AWS::CertificateManager::Certificate")[0].physical_id
    described = cloud.client("acm").describe_certificate(CertificateArn=certificate)["Certificate"]
    assert (described["DomainName"], described["Status"]) == ("api.example.com", "ISSUED")
    assert outputs["BaseUrl"] == "https://api.example.com"
    assert outputs["RegionalDomainName"].endswith(".execute-api.us-east-1.amazonaws.com")


def test_fails_if_the_domain_is_not_deployed(deployed) -> None:
    cloud, _ = deployed
    with pytest.raises(LocalCloudError, match=r"no custom domain name 'nowhere\.example\.com'"):
        cloud.domain_url("nowhere.example.com")
    assert _get(f"{cloud.front_door_url}/nowhere.example.com/x")[0] == 404


def test_fails_at_deploy_on_a_route53_record_naming_it(deployed) -> None:
    # GIVEN a template with an alias record for the domain (the local cloud has no DNS)
    cloud, _ = deployed
    template = {
        "Resources": {
            "Alias": {
                "Type": "AWS::Route53::RecordSet",
                "Properties": {
                    "Name": "api.example.com",
                    "Type": "A",
                    "HostedZoneName": "example.com.",
                    "AliasTarget": {
                        "DNSName": "d-1.execute-api.us-east-1.amazonaws.com",
                        "HostedZoneId": "Z1UJRXOUMOOFQ8",
                    },
                },
            }
        }
    }
    # WHEN it is deployed THEN the deploy fails naming the record and its type
    with pytest.raises(DeployError, match=r"Alias.*AWS::Route53::RecordSet"):
        cloud.deploy_template(template, "DomainDns")


def test_fails_at_deploy_on_a_multi_level_rest_base_path_mapping(deployed) -> None:
    # GIVEN a REST BasePathMapping with a '/' in its base path (AWS takes those only as ApiMappings)
    cloud, stacks = deployed
    template = {
        "Resources": {
            "Deep": {
                "Type": "AWS::ApiGateway::BasePathMapping",
                "Properties": {
                    "DomainName": "api.example.com",
                    "BasePath": "orders/v9",
                    "Stage": "prod",
                    "RestApiId": _api_id(stacks, "DomainOrders", "AWS::ApiGateway::RestApi"),
                },
            }
        }
    }
    # WHEN it is deployed THEN the deploy fails saying why and what to use instead
    with pytest.raises(DeployError, match="multi-level base paths are AWS::ApiGatewayV2::ApiMapping"):
        cloud.deploy_template(template, "DomainDeep")
