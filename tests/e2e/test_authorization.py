"""Rung 5 for CATALOG 17 Authorization: AuthorizationDemo deployed into the local cloud, users signed in
through its Cognito user pool (real RS256 tokens), requests sent over HTTP to the front door, which
runs the real token authorizer and verifies the pool's ID tokens itself.

Proves: allowed → 200 with the caller's identity passed to the function; a group lacking the route's
scope → 403; missing or malformed token → 401 (without running the authorizer); a forged or wrong kind
of token → 401; an expired token → 401; the authorizer runs once per token within its cache TTL.
Every refused request is shown not to reach the function (its invocations are counted).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from demo import authorization as demo
from demo._drive import DriveContext, api_url_mapper
from patterns.local import LocalCloud
from tests.e2e._local_drive import drive_context

STACK = "AuthorizationDemo"
AUTHORIZER = f"{STACK}/Auth/Authorizer"
FUNCTION = f"{STACK}/Auth/Handler"
EXPLICIT_DENY = {"Message": "User is not authorized to access this resource with an explicit deny"}
UNAUTHORIZED = {"message": "Unauthorized"}


@dataclass
class Deployed:
    cloud: LocalCloud
    ctx: DriveContext
    base: str

    def calls(self, function: str) -> int:
        return len(self.cloud.invocations(function))

    def user(self, *groups: str) -> dict[str, Any]:
        """A new user in ``groups``, signed in: its tokens."""
        name, password = f"user-{uuid.uuid4().hex[:8]}", demo.new_password()
        demo.create_user(self.ctx, name, password, *groups)
        return {"name": name, **demo.sign_in(self.ctx, name, password)}

    def get(self, path: str, authorization: str | None = None, method: str = "GET") -> requests.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        return requests.request(method, f"{self.base}{path}", headers=headers, json={} if method == "POST" else None,
                                timeout=30)


@pytest.fixture(scope="module")
def deployed(demo_app) -> Iterator[Deployed]:
    with LocalCloud() as cloud:
        stack = cloud.deploy(demo_app.outdir, STACK)
        ctx = drive_context(cloud, stack, api_url=api_url_mapper(cloud.api_url))
        yield Deployed(cloud, ctx, cloud.api_url(stack.outputs["RestApiId"], stage="prod").rstrip("/"))


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_demo_drive_passes(deployed: Deployed) -> None:
    result = demo.drive(deployed.ctx)
    assert result.ok, result.outcome


def test_allowed_callers_get_200_and_the_function_sees_their_identity(deployed: Deployed) -> None:
    admin = deployed.user("admins")
    before = deployed.calls(FUNCTION)

    read = deployed.get("/orders", f"Bearer {admin['AccessToken']}")
    write = deployed.get("/orders", f"Bearer {admin['AccessToken']}", method="POST")

    assert (read.status_code, write.status_code) == (200, 200)
    assert read.json() == {
        "route": "GET /orders",
        "caller": {
            "principal": _claims(admin["AccessToken"])["sub"],
            "username": admin["name"],
            "groups": ["admins"],
            "scopes": ["orders/read", "orders/write"],
            "authorizer": "lambda",
        },
    }
    assert write.json()["route"] == "POST /orders"
    assert deployed.calls(FUNCTION) - before == 2


def test_a_group_lacking_the_routes_scope_is_denied_403(deployed: Deployed) -> None:
    reader, nobody = deployed.user("readers"), deployed.user()
    before = deployed.calls(FUNCTION)

    read = deployed.get("/orders", f"Bearer {reader['AccessToken']}")
    write = deployed.get("/orders", f"Bearer {reader['AccessToken']}", method="POST")
    outsider = deployed.get("/orders", f"Bearer {nobody['AccessToken']}")

    assert read.status_code == 200
    assert (write.status_code, write.json()) == (403, EXPLICIT_DENY)
    assert (outsider.status_code, outsider.json()) == (403, EXPLICIT_DENY)
    assert deployed.calls(FUNCTION) - before == 1  # only the reader's read reached the function


def test_missing_and_malformed_tokens_are_401_before_the_authorizer_runs(deployed: Deployed) -> None:
    admin = deployed.user("admins")
    before_authorizer, before_function = deployed.calls(AUTHORIZER), deployed.calls(FUNCTION)

    for header in (None, "", "Bearer", "Bearer abc.def", f"Basic {admin['AccessToken']}", admin["AccessToken"]):
        response = deployed.get("/orders", header)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED), header

    assert deployed.calls(AUTHORIZER) == before_authorizer  # API Gateway refused them itself
    assert deployed.calls(FUNCTION) == before_function


def test_forged_and_wrong_kind_of_tokens_are_401_from_the_authorizer(deployed: Deployed) -> None:
    admin, reader = deployed.user("admins"), deployed.user("readers")
    head, _, signature = reader["AccessToken"].split(".")
    forged = f"{head}.{admin['AccessToken'].split('.')[1]}.{signature}"  # an admin's claims, a reader's signature
    before_authorizer, before_function = deployed.calls(AUTHORIZER), deployed.calls(FUNCTION)

    for token in (forged, admin["IdToken"]):  # an ID token is not an access token
        response = deployed.get("/orders", f"Bearer {token}")
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)

    assert deployed.calls(AUTHORIZER) - before_authorizer == 2
    assert deployed.calls(FUNCTION) == before_function


def test_the_authorizer_runs_once_per_token_within_its_cache_ttl(deployed: Deployed) -> None:
    admin, other = deployed.user("admins"), deployed.user("admins")
    before = deployed.calls(AUTHORIZER)

    # N = 10 requests with one token, across both methods: one authorizer call, the cached policy
    # judged against each method.
    statuses = [
        deployed.get("/orders", f"Bearer {admin['AccessToken']}", method="POST" if n % 2 else "GET").status_code
        for n in range(10)
    ]
    assert statuses == [200] * 10
    assert deployed.calls(AUTHORIZER) - before == 1
    assert deployed.get("/orders", f"Bearer {other['AccessToken']}").status_code == 200
    assert deployed.calls(AUTHORIZER) - before == 2  # a second token is a second cache entry

    deployed.cloud.advance(301)  # past the 300 s TTL, inside the tokens' hour
    assert deployed.get("/orders", f"Bearer {admin['AccessToken']}").status_code == 200
    assert deployed.calls(AUTHORIZER) - before == 3


def test_the_profile_route_uses_the_user_pool_authorizer_and_passes_the_claims(deployed: Deployed) -> None:
    admin = deployed.user("admins")
    before_authorizer, before_function = deployed.calls(AUTHORIZER), deployed.calls(FUNCTION)

    profile = deployed.get("/me", admin["IdToken"])
    with_access_token = deployed.get("/me", admin["AccessToken"])
    missing = deployed.get("/me")

    assert profile.status_code == 200
    assert profile.json()["caller"] == {
        "principal": _claims(admin["IdToken"])["sub"],
        "username": admin["name"],
        "groups": ["admins"],
        "authorizer": "cognito",
    }
    assert (with_access_token.status_code, missing.status_code) == (401, 401)
    assert deployed.calls(AUTHORIZER) == before_authorizer  # the user pool authorizer runs no function
    assert deployed.calls(FUNCTION) - before_function == 1


def test_expired_tokens_are_401_on_both_authorizers(deployed: Deployed) -> None:
    admin = deployed.user("admins")
    assert deployed.get("/orders", f"Bearer {admin['AccessToken']}").status_code == 200
    assert deployed.get("/me", admin["IdToken"]).status_code == 200
    before_function = deployed.calls(FUNCTION)

    deployed.cloud.advance(admin["ExpiresIn"] + 1)  # the demo client's tokens live one hour

    expired_access = deployed.get("/orders", f"Bearer {admin['AccessToken']}")
    expired_id = deployed.get("/me", admin["IdToken"])
    assert (expired_access.status_code, expired_access.json()) == (401, UNAUTHORIZED)
    assert (expired_id.status_code, expired_id.json()) == (401, UNAUTHORIZED)
    assert deployed.calls(FUNCTION) == before_function
    # Tokens issued on the moved clock are valid again.
    assert deployed.get("/orders", f"Bearer {deployed.user('admins')['AccessToken']}").status_code == 200
