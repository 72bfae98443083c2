"""Rung 4 for CATALOG 17 Authorization: the token authorizer against real RS256 tokens and a JWKS
served over HTTP on 127.0.0.1 (the path a local cloud serves it at), bad tokens included; the
protected function with both authorizers' request contexts and without one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import load_handler

EVENTS = Path(__file__).parent / "events" / "authorization"
POOL = "us-east-1_Test0001"
CLIENT = "webclient0001"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
GROUPS = {"admins": ["orders/read", "orders/write"], "readers": ["orders/read"]}
ROUTES = {"GET /orders": "orders/read", "POST /orders": "orders/write", "DELETE /orders/{id}": "orders/write"}
API = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod"


@dataclass
class Context:
    function_name: str = "AuthorizationDemo-Authorizer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:AuthorizationDemo-Authorizer"
    aws_request_id: str = "7e57ab1e-0000-4000-8000-000000000017"


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
HMAC_SECRET = "a-shared-secret-of-thirty-two-bytes"


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[dict[str, Any]]:
    """Serves ``/{POOL}/.well-known/jwks.json`` and counts the fetches."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()
    state: dict[str, Any] = {"fetches": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != f"/{POOL}/.well-known/jwks.json":
                self.send_error(404)
                return
            state["fetches"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def authorizer(jwks_server: dict[str, Any]) -> ModuleType:
    return load_handler(
        "authorization",
        "authorizer",
        {
            "USER_POOL_ID": POOL,
            "CLIENT_IDS": CLIENT,
            "GROUP_SCOPES": json.dumps(GROUPS),
            "ROUTE_SCOPES": json.dumps(ROUTES),
            "AWS_ENDPOINT_URL": jwks_server["url"],
            "POWERTOOLS_SERVICE_NAME": "authorization",
        },
    )


def token(key: Any = KEY, kid: str = "k1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "5f0c2e1a-1111-4222-8333-944445555666",
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "username": "alice",
        "cognito:groups": ["admins"],
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def authorize(module: ModuleType, header: str, method_arn: str = f"{API}/GET/orders") -> dict[str, Any]:
    event = {**json.loads((EVENTS / "token_authorizer.json").read_text()), "authorizationToken": header}
    event["methodArn"] = method_arn
    return module.handler(event, Context())  # type: ignore[no-any-return]


def decisions(policy: dict[str, Any]) -> dict[str, str]:
    """Resource ARN → effect, over every statement."""
    return {r: s["Effect"] for s in policy["policyDocument"]["Statement"] for r in s["Resource"]}


def test_admin_gets_every_route_allowed_with_principal_and_context(authorizer: ModuleType) -> None:
    policy = authorize(authorizer, f"Bearer {token()}")

    assert policy["principalId"] == "5f0c2e1a-1111-4222-8333-944445555666"
    assert decisions(policy) == {
        f"{API}/GET/orders": "Allow",
        f"{API}/POST/orders": "Allow",
        f"{API}/DELETE/orders/*": "Allow",
    }
    assert policy["context"] == {"username": "alice", "groups": "admins", "scopes": "orders/read orders/write"}


def test_reader_is_allowed_to_read_and_explicitly_denied_writes(authorizer: ModuleType) -> None:
    policy = authorize(authorizer, f"Bearer {token(**{'cognito:groups': ['readers']})}", f"{API}/POST/orders")

    assert decisions(policy) == {
        f"{API}/GET/orders": "Allow",
        f"{API}/POST/orders": "Deny",
        f"{API}/DELETE/orders/*": "Deny",
    }
    assert policy["context"]["scopes"] == "orders/read"


def test_a_user_in_no_group_is_denied_every_route(authorizer: ModuleType) -> None:
    policy = authorize(authorizer, f"Bearer {token(**{'cognito:groups': None})}")

    assert set(decisions(policy).values()) == {"Deny"}
    assert policy["context"]["groups"] == ""


def test_keys_are_fetched_once_per_environment(authorizer: ModuleType, jwks_server: dict[str, Any]) -> None:
    before = jwks_server["fetches"]
    for _ in range(3):
        authorize(authorizer, f"Bearer {token()}")
    assert jwks_server["fetches"] - before == 1


BAD_TOKENS = [
        ("", "empty"),
        (f"Basic {token()}", "not a bearer token"),
        (token(), "no Bearer prefix"),
        ("Bearer abc.def", "two parts"),
        ("Bearer !!!.???.***", "not base64url"),
        ("Bearer e30.e30.e30", "header without alg"),
        (f"Bearer {jwt.encode({'iss': ISSUER}, HMAC_SECRET, algorithm='HS256', headers={'kid': 'k1'})}", "HS256"),
        (f"Bearer {token(kid='rotated')}", "unknown key id"),
        (f"Bearer {token(key=OTHER_KEY)}", "signed by another key"),
        (f"Bearer {token(iss='https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other')}", "another pool"),
        (f"Bearer {token(token_use='id')}", "an ID token"),
        (f"Bearer {token(client_id='someoneelse')}", "another app client"),
        (f"Bearer {token(exp=int(time.time()) - 1)}", "expired"),
        (f"Bearer {token(exp=None)}", "no exp"),
        (f"Bearer {token(exp='tomorrow')}", "exp not a number"),
]


@pytest.mark.parametrize(("header", "why"), BAD_TOKENS, ids=[why for _, why in BAD_TOKENS])
def test_bad_tokens_are_unauthorized(authorizer: ModuleType, header: str, why: str) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer, header)


def test_a_tampered_payload_fails_the_signature(authorizer: ModuleType) -> None:
    head, _, signature = token(**{"cognito:groups": ["readers"]}).split(".")
    forged_payload = token().split(".")[1]  # an admin's claims under a reader's signature
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer, f"Bearer {head}.{forged_payload}.{signature}")


# --- the protected function -----------------------------------------------------------------------


@pytest.fixture
def app() -> ModuleType:
    return load_handler("authorization", "app", {"POWERTOOLS_SERVICE_NAME": "authorization"})


def request(**authorizer: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / "orders_request.json").read_text())
    if authorizer.get("none"):
        event["requestContext"].pop("authorizer")
    elif authorizer:
        event["requestContext"]["authorizer"] = authorizer
    return event


def test_function_sees_the_lambda_authorizers_principal_and_context(app: ModuleType) -> None:
    response = app.handler(request(), Context())

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "route": "GET /orders",
        "caller": {
            "principal": "5f0c2e1a-1111-4222-8333-944445555666",
            "username": "alice",
            "groups": ["admins"],
            "scopes": ["orders/read", "orders/write"],
            "authorizer": "lambda",
        },
    }


def test_function_sees_the_cognito_authorizers_claims(app: ModuleType) -> None:
    claims = {"sub": "abc", "cognito:username": "bob", "cognito:groups": "[readers auditors]", "token_use": "id"}
    body = json.loads(app.handler(request(claims=claims), Context())["body"])

    assert body["caller"] == {
        "principal": "abc",
        "username": "bob",
        "groups": ["readers", "auditors"],
        "authorizer": "cognito",
    }


@pytest.mark.parametrize("authorizer", [{"none": True}, {"integrationLatency": 3}])
def test_function_refuses_a_request_without_an_authorized_caller(app: ModuleType, authorizer: dict[str, Any]) -> None:
    response = app.handler(request(**authorizer), Context())

    assert (response["statusCode"], json.loads(response["body"])) == (403, {"message": "no authorized caller"})
