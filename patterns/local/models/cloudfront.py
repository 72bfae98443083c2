"""CloudFront: distributions and the policies they reference, checked at deploy, served by the front door.

moto has no CloudFormation model for CloudFront. These models parse what a distribution needs at
request time (origins, behaviours in precedence order, policies, error responses) into a
``LocalDistribution`` the front door (frontdoor/cloudfront.py) serves, and fail the deployment,
naming the resource and the feature, for what the local cloud cannot serve: Lambda@Edge and
CloudFront Functions, signed URLs/cookies (trusted signers and key groups), origin groups
(failover), origin access identities, field-level encryption, CORS in response headers policies,
custom origins it cannot reach, and managed policies it does not know.

Caching is not emulated: every request goes to the origin (what a TTL of 0 gives), so a test never
reads a stale object. Viewer protocol policies are recorded (the local front door speaks plain HTTP).
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import _cfn_error, _LocalModel

# ---------------------------------------------------------------------------------------------
# Policies: what a behaviour forwards to its origin and adds to its answers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForwardSet:
    """Which headers / cookies / query strings go to the origin: 'none', 'all', 'whitelist',
    'allExcept' (with ``names``), as the policies' *Behavior fields say."""

    behavior: str = "none"
    names: tuple[str, ...] = ()

    def allows(self, name: str, *, case_sensitive: bool = False) -> bool:
        if self.behavior == "none":
            return False
        if self.behavior == "all":
            return True
        wanted = {n if case_sensitive else n.lower() for n in self.names}
        present = (name if case_sensitive else name.lower()) in wanted
        return present if self.behavior in ("whitelist", "allViewer+whitelist") else not present

    def union(self, other: ForwardSet) -> ForwardSet:
        if "all" in (self.behavior, other.behavior):
            return ForwardSet("all")
        if self.behavior == "none":
            return other
        if other.behavior == "none":
            return self
        if self.behavior == other.behavior == "whitelist":
            return ForwardSet("whitelist", tuple(dict.fromkeys(self.names + other.names)))
        return ForwardSet("all")  # allExcept on either side: everything but a few


@dataclass(frozen=True)
class OriginForwarding:
    """What a cache policy plus an origin request policy (or legacy ForwardedValues) send on."""

    headers: ForwardSet = ForwardSet()
    cookies: ForwardSet = ForwardSet()
    query_strings: ForwardSet = ForwardSet()
    viewer_host: bool = False  # the Host header of the viewer (AllViewer) instead of the origin's

    def union(self, other: OriginForwarding) -> OriginForwarding:
        return OriginForwarding(
            self.headers.union(other.headers),
            self.cookies.union(other.cookies),
            self.query_strings.union(other.query_strings),
            self.viewer_host or other.viewer_host,
        )


@dataclass(frozen=True)
class HeaderRule:
    name: str
    value: str
    override: bool


@dataclass(frozen=True)
class ResponseHeaders:
    """A response headers policy: headers added (security and custom) and headers removed."""

    name: str
    add: tuple[HeaderRule, ...] = ()
    remove: tuple[str, ...] = ()


_NONE = ForwardSet()
_ALL = ForwardSet("all")

#: Managed cache policies (their cache keys only; caching itself is not emulated). IDs and contents:
#: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
MANAGED_CACHE_POLICIES: dict[str, tuple[str, OriginForwarding]] = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": ("CachingOptimized", OriginForwarding()),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": ("CachingDisabled", OriginForwarding()),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": ("CachingOptimizedForUncompressedObjects", OriginForwarding()),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": (
        "Amplify",
        OriginForwarding(
            headers=ForwardSet("whitelist", ("authorization", "cloudfront-viewer-country", "host")),
            cookies=_ALL,
            query_strings=_ALL,
            viewer_host=True,
        ),
    ),
}

#: Managed origin request policies:
#: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html
MANAGED_ORIGIN_REQUEST_POLICIES: dict[str, tuple[str, OriginForwarding]] = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": (
        "AllViewer",
        OriginForwarding(headers=_ALL, cookies=_ALL, query_strings=_ALL, viewer_host=True),
    ),
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": (
        "AllViewerExceptHostHeader",
        OriginForwarding(headers=ForwardSet("allExcept", ("host",)), cookies=_ALL, query_strings=_ALL),
    ),
    "33f36d7e-f396-46d9-90e0-52428a34d9dc": (
        "AllViewerAndCloudFrontHeaders-2022-06",
        OriginForwarding(headers=_ALL, cookies=_ALL, query_strings=_ALL, viewer_host=True),
    ),
    "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": (
        "CORS-S3Origin",
        OriginForwarding(
            headers=ForwardSet(
                "whitelist", ("origin", "access-control-request-headers", "access-control-request-method")
            )
        ),
    ),
    "59781a5b-3903-41f3-afcb-af62929ccde1": (
        "CORS-CustomOrigin",
        OriginForwarding(headers=ForwardSet("whitelist", ("origin",))),
    ),
    "acba4595-bd28-49b8-b9fe-13317c0390fa": (
        "UserAgentRefererHeaders",
        OriginForwarding(headers=ForwardSet("whitelist", ("user-agent", "referer"))),
    ),
}

#: Managed response headers policies without CORS (CORS is not emulated: those fail at deploy):
#: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-response-headers-policies.html
MANAGED_RESPONSE_HEADERS_POLICIES: dict[str, ResponseHeaders] = {
    "67f7725c-6f97-4210-82d7-5512b31e9d03": ResponseHeaders(
        "SecurityHeadersPolicy",
        add=(
            HeaderRule("Referrer-Policy", "strict-origin-when-cross-origin", False),
            HeaderRule("Strict-Transport-Security", "max-age=31536000", False),
            HeaderRule("X-Content-Type-Options", "nosniff", True),
            HeaderRule("X-Frame-Options", "SAMEORIGIN", False),
            HeaderRule("X-XSS-Protection", "1; mode=block", False),
        ),
    ),
}

_MANAGED_CORS_RESPONSE_POLICIES = {
    "60669652-455b-4ae9-85a4-c4c02393f86c": "SimpleCORS",
    "5cc3b908-e619-4b99-88e5-2cf7f45965bd": "CORS-With-Preflight",
    "e61eb60c-9c35-4d20-a928-2b84e02af89c": "CORS-and-SecurityHeadersPolicy",
    "eaab4381-ed33-4a86-88ca-d9558dc6cd63": "CORS-with-preflight-and-SecurityHeadersPolicy",
}


# ---------------------------------------------------------------------------------------------
# The deployed distribution, as the front door reads it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """An origin: ``kind`` is 's3' (a bucket, read through its policy), 'apigateway' (an API of
    the local front door) or 'http' (a loopback HTTP server)."""

    id: str
    kind: str
    domain: str
    path: str = ""
    bucket: str = ""
    api_id: str = ""
    port: int = 80
    signed: bool = False  # an OAC signs the origin requests as cloudfront.amazonaws.com
    custom_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Behavior:
    path_pattern: str  # "*" for the default behaviour
    origin: Origin
    allowed_methods: frozenset[str]
    viewer_protocol_policy: str
    forwarding: OriginForwarding
    response_headers: ResponseHeaders | None

    def matches(self, path: str) -> bool:
        return path_pattern_matches(self.path_pattern, path)


@dataclass(frozen=True)
class ErrorResponse:
    error_code: int
    response_code: int | None
    page_path: str | None


@dataclass
class LocalDistribution:
    id: str
    domain_name: str
    arn: str
    account_id: str
    enabled: bool
    default_root_object: str
    behaviors: list[Behavior]  # CacheBehaviors in template order, then the default behaviour
    error_responses: dict[int, ErrorResponse] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def behavior_for(self, path: str) -> Behavior:
        """The first cache behaviour whose path pattern matches, else the default (CloudFront's order)."""
        for behavior in self.behaviors[:-1]:
            if behavior.matches(path):
                return behavior
        return self.behaviors[-1]


def path_pattern_matches(pattern: str, path: str) -> bool:
    """CloudFront path patterns: case-sensitive, ``*`` any run of characters, ``?`` exactly one;
    the leading ``/`` is optional in the pattern."""
    if pattern == "*":
        return True
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path, flags=re.DOTALL) is not None


class CloudFrontStore:
    """Distributions and custom policies of every local cloud in this process, by id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.distributions: dict[str, LocalDistribution] = {}
        self.response_headers_policies: dict[str, ResponseHeaders] = {}
        self.forwarding_policies: dict[str, tuple[str, OriginForwarding]] = {}  # cache + origin request
        self.origin_access_controls: dict[str, dict[str, Any]] = {}

    def distribution(self, ref: str) -> LocalDistribution | None:
        """By id (any case) or domain name."""
        with self.lock:
            for distribution in self.distributions.values():
                if ref.lower() in (distribution.id.lower(), distribution.domain_name.lower()):
                    return distribution
        return None


STORE = CloudFrontStore()


def _new_id(prefix: str, length: int, alphabet: str) -> str:
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _policy_id() -> str:
    hexdigits = "0123456789abcdef"
    parts = [8, 4, 4, 4, 12]
    return "-".join("".join(secrets.choice(hexdigits) for _ in range(n)) for n in parts)


# ---------------------------------------------------------------------------------------------
# Policy resources
# ---------------------------------------------------------------------------------------------


def _forward_set(config: Mapping[str, Any] | None, behavior_key: str, names_key: str, items_key: str) -> ForwardSet:
    config = config or {}
    behavior = str(config.get(behavior_key, "none"))
    raw = config.get(names_key) or config.get(items_key) or []
    names = tuple(str(n) for n in (raw.get("Items") or [] if isinstance(raw, Mapping) else raw))
    return ForwardSet(behavior, names)


class CachePolicy(_LocalModel):
    """AWS::CloudFront::CachePolicy: its cache key (headers, cookies, query strings) goes to the origin."""

    CFN_TYPE = "AWS::CloudFront::CachePolicy"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> CachePolicy:
        config = props.get("CachePolicyConfig") or {}
        key = config.get("ParametersInCacheKeyAndForwardedToOrigin") or {}
        forwarding = OriginForwarding(
            headers=_forward_set(key.get("HeadersConfig"), "HeaderBehavior", "Headers", "Headers"),
            cookies=_forward_set(key.get("CookiesConfig"), "CookieBehavior", "Cookies", "Cookies"),
            query_strings=_forward_set(
                key.get("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings", "QueryStrings"
            ),
        )
        policy_id = _policy_id()
        with STORE.lock:
            STORE.forwarding_policies[policy_id] = (str(config.get("Name", resource_name)), forwarding)
        return cls(policy_id, {"Id": policy_id, "LastModifiedTime": "2026-01-01T00:00:00Z"})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        with STORE.lock:
            STORE.forwarding_policies.pop(resource_name, None)


class OriginRequestPolicy(_LocalModel):
    """AWS::CloudFront::OriginRequestPolicy: what else (beyond the cache key) goes to the origin."""

    CFN_TYPE = "AWS::CloudFront::OriginRequestPolicy"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> OriginRequestPolicy:
        config = props.get("OriginRequestPolicyConfig") or {}
        headers = _forward_set(config.get("HeadersConfig"), "HeaderBehavior", "Headers", "Headers")
        forwarding = OriginForwarding(
            headers=ForwardSet("all") if headers.behavior == "allViewer" else headers,
            cookies=_forward_set(config.get("CookiesConfig"), "CookieBehavior", "Cookies", "Cookies"),
            query_strings=_forward_set(
                config.get("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings", "QueryStrings"
            ),
            viewer_host=headers.behavior in ("allViewer", "allViewerAndWhitelistCloudFront"),
        )
        policy_id = _policy_id()
        with STORE.lock:
            STORE.forwarding_policies[policy_id] = (str(config.get("Name", resource_name)), forwarding)
        return cls(policy_id, {"Id": policy_id, "LastModifiedTime": "2026-01-01T00:00:00Z"})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        with STORE.lock:
            STORE.forwarding_policies.pop(resource_name, None)


#: SecurityHeadersConfig entries: (property, header, value of the entry).
_SECURITY_HEADERS: dict[str, tuple[str, Any]] = {
    "ContentSecurityPolicy": ("Content-Security-Policy", lambda c: str(c["ContentSecurityPolicy"])),
    "ContentTypeOptions": ("X-Content-Type-Options", lambda c: "nosniff"),
    "FrameOptions": ("X-Frame-Options", lambda c: str(c["FrameOption"])),
    "ReferrerPolicy": ("Referrer-Policy", lambda c: str(c["ReferrerPolicy"])),
    "StrictTransportSecurity": (
        "Strict-Transport-Security",
        lambda c: "; ".join(
            [f"max-age={int(c['AccessControlMaxAgeSec'])}"]
            + (["includeSubDomains"] if str(c.get("IncludeSubdomains", "false")).lower() == "true" else [])
            + (["preload"] if str(c.get("Preload", "false")).lower() == "true" else [])
        ),
    ),
    "XSSProtection": (
        "X-XSS-Protection",
        lambda c: (
            "0"
            if str(c.get("Protection", "true")).lower() == "false"
            else "; ".join(
                ["1"]
                + (["mode=block"] if str(c.get("ModeBlock", "false")).lower() == "true" else [])
                + ([f"report={c['ReportUri']}"] if c.get("ReportUri") else [])
            )
        ),
    ),
}


def parse_response_headers_policy(resource_name: str, config: Mapping[str, Any]) -> ResponseHeaders:
    """A ResponseHeadersPolicyConfig as the headers it adds and removes; CORS fails (not emulated)."""
    where = f"{resource_name} (AWS::CloudFront::ResponseHeadersPolicy)"
    if config.get("CorsConfig"):
        raise _cfn_error(f"{where}: CorsConfig is not supported by the local cloud (CORS is not emulated)")
    if config.get("ServerTimingHeadersConfig", {}).get("Enabled") in (True, "true"):
        raise _cfn_error(f"{where}: ServerTimingHeadersConfig is not supported by the local cloud")
    rules: list[HeaderRule] = []
    for key, entry in (config.get("SecurityHeadersConfig") or {}).items():
        if key not in _SECURITY_HEADERS:
            raise _cfn_error(f"{where}: SecurityHeadersConfig.{key} is not supported by the local cloud")
        header, value = _SECURITY_HEADERS[key]
        rules.append(HeaderRule(header, value(entry), str(entry.get("Override", "false")).lower() == "true"))
    for entry in (config.get("CustomHeadersConfig") or {}).get("Items") or []:
        rules.append(HeaderRule(str(entry["Header"]), str(entry["Value"]), str(entry["Override"]).lower() == "true"))
    removed = tuple(str(e["Header"]) for e in (config.get("RemoveHeadersConfig") or {}).get("Items") or [])
    return ResponseHeaders(str(config.get("Name", resource_name)), tuple(rules), removed)


class ResponseHeadersPolicy(_LocalModel):
    """AWS::CloudFront::ResponseHeadersPolicy: security, custom and removed headers on every answer."""

    CFN_TYPE = "AWS::CloudFront::ResponseHeadersPolicy"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> ResponseHeadersPolicy:
        policy = parse_response_headers_policy(
            kwargs.get("LogicalId", resource_name), props.get("ResponseHeadersPolicyConfig") or {}
        )
        policy_id = _policy_id()
        with STORE.lock:
            STORE.response_headers_policies[policy_id] = policy
        return cls(policy_id, {"Id": policy_id, "LastModifiedTime": "2026-01-01T00:00:00Z"})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        with STORE.lock:
            STORE.response_headers_policies.pop(resource_name, None)


class OriginAccessControl(_LocalModel):
    """AWS::CloudFront::OriginAccessControl: S3 origins signed as the cloudfront.amazonaws.com service."""

    CFN_TYPE = "AWS::CloudFront::OriginAccessControl"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> OriginAccessControl:
        config = dict(props.get("OriginAccessControlConfig") or {})
        where = f"{kwargs.get('LogicalId', resource_name)} ({cls.CFN_TYPE})"
        if config.get("OriginAccessControlOriginType", "s3") != "s3":
            raise _cfn_error(
                f"{where}: OriginAccessControlOriginType {config['OriginAccessControlOriginType']} is not "
                "supported by the local cloud (s3 only)"
            )
        if config.get("SigningProtocol", "sigv4") != "sigv4":
            raise _cfn_error(f"{where}: SigningProtocol {config['SigningProtocol']} is not supported (sigv4 only)")
        oac_id = _new_id("E", 13, string.ascii_uppercase + string.digits)
        with STORE.lock:
            STORE.origin_access_controls[oac_id] = config
        return cls(oac_id, {"Id": oac_id})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        with STORE.lock:
            STORE.origin_access_controls.pop(resource_name, None)


# ---------------------------------------------------------------------------------------------
# The distribution
# ---------------------------------------------------------------------------------------------

_S3_DOMAIN = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$"
)
_API_DOMAIN = re.compile(r"^(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
_LOOPBACK = ("localhost", "127.0.0.1")
_DEFAULT_METHODS = frozenset({"GET", "HEAD"})

#: Features of a distribution the local cloud cannot serve: (where, property, feature name).
_UNSUPPORTED_BEHAVIOR_PROPS = {
    "LambdaFunctionAssociations": "Lambda@Edge",
    "FunctionAssociations": "CloudFront Functions",
    "TrustedSigners": "signed URLs and cookies (trusted signers)",
    "TrustedKeyGroups": "signed URLs and cookies (trusted key groups)",
    "FieldLevelEncryptionId": "field-level encryption",
    "RealtimeLogConfigArn": "real-time logs",
    "GrpcConfig": "gRPC",
}


def _non_empty(value: Any) -> bool:
    if isinstance(value, Mapping):
        return bool(value.get("Items") if "Items" in value else value)
    return bool(value)


class Distribution(_LocalModel):
    """AWS::CloudFront::Distribution, served on the front door at ``http://<id>.cloudfront.localhost:PORT``."""

    CFN_TYPE = "AWS::CloudFront::Distribution"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> Distribution:
        distribution_id = _new_id("E", 13, string.ascii_uppercase + string.digits)
        distribution = parse_distribution(
            kwargs.get("LogicalId", resource_name), props.get("DistributionConfig") or {}, distribution_id, account_id
        )
        with STORE.lock:
            STORE.distributions[distribution_id] = distribution
        return cls(distribution_id, {"Id": distribution_id, "DomainName": distribution.domain_name})

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Distribution:
        """An update keeps the distribution's id and domain name, as CloudFront does."""
        distribution_id = original_resource.physical_resource_id
        config = (cloudformation_json.get("Properties") or {}).get("DistributionConfig") or {}
        distribution = parse_distribution(new_resource_name, config, distribution_id, account_id)
        distribution.domain_name = original_resource.attributes["DomainName"]
        with STORE.lock:
            STORE.distributions[distribution_id] = distribution
        return cls(distribution_id, dict(original_resource.attributes))

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        with STORE.lock:
            STORE.distributions.pop(resource_name, None)


def _origin(where: str, raw: Mapping[str, Any]) -> Origin:
    origin_id = str(raw["Id"])
    here = f"{where}: origin {origin_id}"
    domain = str(raw["DomainName"]).lower()
    path = str(raw.get("OriginPath") or "").rstrip("/")
    if path and not path.startswith("/"):
        raise _cfn_error(f"{here}: OriginPath must start with / (given {path!r})")
    for key, feature in (("OriginShield", "Origin Shield"), ("VpcOriginConfig", "VPC origins")):
        if raw.get(key) and (key != "OriginShield" or str(raw[key].get("Enabled", "false")).lower() == "true"):
            raise _cfn_error(f"{here}: {feature} is not supported by the local cloud")
    custom_headers = tuple((str(h["HeaderName"]), str(h["HeaderValue"])) for h in raw.get("OriginCustomHeaders") or [])
    s3_config = raw.get("S3OriginConfig")
    if s3_config is not None:
        if s3_config.get("OriginAccessIdentity"):
            raise _cfn_error(
                f"{here}: origin access identities (OAI) are not supported by the local cloud; "
                "use an origin access control (OAC)"
            )
        match = _S3_DOMAIN.match(domain)
        if not match:
            raise _cfn_error(f"{here}: S3 origin domain {domain} is not a bucket endpoint the local cloud serves")
        oac_id = str(raw.get("OriginAccessControlId") or "")
        signed = False
        if oac_id:
            with STORE.lock:
                oac = STORE.origin_access_controls.get(oac_id)
            if oac is None:
                raise _cfn_error(f"{here}: OriginAccessControlId {oac_id} is not deployed")
            signed = oac.get("SigningBehavior", "always") != "never"
        return Origin(
            origin_id, "s3", domain, path, bucket=match["bucket"], signed=signed, custom_headers=custom_headers
        )
    custom = raw.get("CustomOriginConfig")
    if custom is None:
        raise _cfn_error(f"{here}: an origin needs S3OriginConfig or CustomOriginConfig")
    protocol = str(custom.get("OriginProtocolPolicy", "https-only"))
    api = _API_DOMAIN.match(domain)
    if api:
        return Origin(origin_id, "apigateway", domain, path, api_id=api["api"], custom_headers=custom_headers)
    if domain in _LOOPBACK:
        if protocol == "https-only":
            raise _cfn_error(f"{here}: https-only to {domain} is not supported (the local origin speaks plain HTTP)")
        port = int(custom.get("HTTPPort", 80))
        return Origin(origin_id, "http", domain, path, port=port, custom_headers=custom_headers)
    if _S3_DOMAIN.match(domain.replace("s3-website", "s3")):
        raise _cfn_error(f"{here}: S3 website endpoints ({domain}) are not supported by the local cloud")
    raise _cfn_error(
        f"{here}: custom origin {domain} is not served by the local cloud (API Gateway APIs and "
        "loopback HTTP servers are)"
    )


def _forwarding(here: str, raw: Mapping[str, Any]) -> OriginForwarding:
    cache_id = str(raw.get("CachePolicyId") or "")
    request_id = str(raw.get("OriginRequestPolicyId") or "")
    if not cache_id:
        legacy = raw.get("ForwardedValues")
        if legacy is None:
            raise _cfn_error(f"{here}: a behaviour needs CachePolicyId or ForwardedValues")
        headers = [str(h) for h in legacy.get("Headers") or []]
        cookies = legacy.get("Cookies") or {}
        forwarding = OriginForwarding(
            headers=ForwardSet("all")
            if "*" in headers
            else ForwardSet("whitelist", tuple(headers))
            if headers
            else _NONE,
            cookies=ForwardSet(str(cookies.get("Forward", "none")), tuple(cookies.get("WhitelistedNames") or [])),
            query_strings=(
                ForwardSet("whitelist", tuple(legacy["QueryStringCacheKeys"]))
                if legacy.get("QueryStringCacheKeys")
                else _ALL
                if str(legacy.get("QueryString", "false")).lower() == "true"
                else _NONE
            ),
            viewer_host="*" in headers or "host" in [h.lower() for h in headers],
        )
    else:
        forwarding = _lookup_forwarding(here, "CachePolicyId", cache_id, MANAGED_CACHE_POLICIES)
    if request_id:
        forwarding = forwarding.union(
            _lookup_forwarding(here, "OriginRequestPolicyId", request_id, MANAGED_ORIGIN_REQUEST_POLICIES)
        )
    return forwarding


def _lookup_forwarding(
    here: str, prop: str, policy_id: str, managed: Mapping[str, tuple[str, OriginForwarding]]
) -> OriginForwarding:
    if policy_id in managed:
        return managed[policy_id][1]
    with STORE.lock:
        custom = STORE.forwarding_policies.get(policy_id)
    if custom is None:
        raise _cfn_error(f"{here}: {prop} {policy_id} is neither a managed policy the local cloud knows nor deployed")
    return custom[1]


def _response_headers(here: str, policy_id: str) -> ResponseHeaders | None:
    if not policy_id:
        return None
    if policy_id in MANAGED_RESPONSE_HEADERS_POLICIES:
        return MANAGED_RESPONSE_HEADERS_POLICIES[policy_id]
    if policy_id in _MANAGED_CORS_RESPONSE_POLICIES:
        raise _cfn_error(
            f"{here}: managed response headers policy {_MANAGED_CORS_RESPONSE_POLICIES[policy_id]} adds CORS, "
            "which the local cloud does not emulate"
        )
    with STORE.lock:
        policy = STORE.response_headers_policies.get(policy_id)
    if policy is None:
        raise _cfn_error(f"{here}: ResponseHeadersPolicyId {policy_id} is neither a known managed policy nor deployed")
    return policy


def _behavior(where: str, raw: Mapping[str, Any], origins: Mapping[str, Origin], pattern: str) -> Behavior:
    here = f"{where}: behaviour {pattern}"
    for prop, feature in _UNSUPPORTED_BEHAVIOR_PROPS.items():
        if _non_empty(raw.get(prop)):
            raise _cfn_error(f"{here}: {prop} ({feature}) is not supported by the local cloud")
    target = str(raw["TargetOriginId"])
    if target not in origins:
        raise _cfn_error(f"{here}: TargetOriginId {target} names no origin of the distribution")
    methods = raw.get("AllowedMethods")
    return Behavior(
        path_pattern=pattern,
        origin=origins[target],
        allowed_methods=frozenset(str(m).upper() for m in methods) if methods else _DEFAULT_METHODS,
        viewer_protocol_policy=str(raw.get("ViewerProtocolPolicy", "allow-all")),
        forwarding=_forwarding(here, raw),
        response_headers=_response_headers(here, str(raw.get("ResponseHeadersPolicyId") or "")),
    )


def parse_distribution(
    resource_name: str, config: Mapping[str, Any], distribution_id: str, account_id: str
) -> LocalDistribution:
    """A DistributionConfig as the front door serves it; what it cannot serve raises, naming it."""
    where = f"{resource_name} (AWS::CloudFront::Distribution)"
    if _non_empty(config.get("OriginGroups")):
        raise _cfn_error(f"{where}: OriginGroups (origin failover) are not supported by the local cloud")
    for prop in ("ContinuousDeploymentPolicyId", "Staging"):
        if config.get(prop) not in (None, "", False, "false"):
            raise _cfn_error(f"{where}: {prop} (continuous deployment) is not supported by the local cloud")
    origins: dict[str, Origin] = {}
    for raw in config.get("Origins") or []:
        origin = _origin(where, raw)
        origins[origin.id] = origin
    if not origins:
        raise _cfn_error(f"{where}: a distribution needs at least one origin")
    behaviors = [_behavior(where, raw, origins, str(raw["PathPattern"])) for raw in config.get("CacheBehaviors") or []]
    if "DefaultCacheBehavior" not in config:
        raise _cfn_error(f"{where}: DefaultCacheBehavior is required")
    behaviors.append(_behavior(where, config["DefaultCacheBehavior"], origins, "*"))
    errors: dict[int, ErrorResponse] = {}
    for raw in config.get("CustomErrorResponses") or []:
        code = int(raw["ErrorCode"])
        page = raw.get("ResponsePagePath")
        response_code = raw.get("ResponseCode")
        if page and not str(page).startswith("/"):
            raise _cfn_error(f"{where}: ResponsePagePath must start with / (given {page!r})")
        errors[code] = ErrorResponse(code, int(response_code) if response_code not in (None, "") else None, page)
    aliases = tuple(str(a) for a in config.get("Aliases") or [])
    domain = _new_id("d", 13, string.ascii_lowercase + string.digits) + ".cloudfront.net"
    return LocalDistribution(
        id=distribution_id,
        domain_name=domain,
        arn=f"arn:aws:cloudfront::{account_id}:distribution/{distribution_id}",
        account_id=account_id,
        enabled=str(config.get("Enabled", "true")).lower() != "false",
        default_root_object=str(config.get("DefaultRootObject") or "").lstrip("/"),
        behaviors=behaviors,
        error_responses=errors,
        aliases=aliases,
    )


MODELS: tuple[type, ...] = (CachePolicy, OriginRequestPolicy, ResponseHeadersPolicy, OriginAccessControl, Distribution)
