"""Verification of Cognito user pool access tokens (RS256 JWTs) with the standard library only.

The Lambda Python runtime has no JWT or RSA package and this asset ships none, so the RS256
signature (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 §8.2.2) is checked by recomputing the expected
encoded message and comparing it in constant time — no parsing of the decrypted block, which is
what signature-forgery attacks on PKCS#1 v1.5 verifiers exploit. The pool's public keys come from
its JWKS URL (``{issuer}/.well-known/jwks.json``) and are kept for the life of the environment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class InvalidToken(Exception):
    """The token is not a valid access token of this pool and app clients (the reason is the message)."""


@dataclass(frozen=True)
class RsaKey:
    modulus: int
    exponent: int

    def verifies(self, message: bytes, signature: bytes) -> bool:
        size = (self.modulus.bit_length() + 7) // 8
        if len(signature) != size:
            return False
        value = int.from_bytes(signature, "big")
        if value >= self.modulus:
            return False
        encoded = pow(value, self.exponent, self.modulus).to_bytes(size, "big")
        digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        padding = size - len(digest_info) - 3
        if padding < 8:
            return False
        expected = b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info
        return hmac.compare_digest(encoded, expected)


def b64url_decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidToken("not base64url") from exc


def _b64url_int(part: str) -> int:
    return int.from_bytes(b64url_decode(part), "big")


def parse_jwks(document: Mapping[str, Any]) -> dict[str, RsaKey]:
    """The RS256 signing keys of a JWKS document, by key id."""
    keys: dict[str, RsaKey] = {}
    for key in document.get("keys", []):
        if key.get("kty") == "RSA" and key.get("use", "sig") == "sig" and "kid" in key:
            keys[str(key["kid"])] = RsaKey(_b64url_int(key["n"]), _b64url_int(key["e"]))
    return keys


def fetch_jwks(url: str, timeout: float = 3.0) -> dict[str, RsaKey]:
    """Download and parse a JWKS document (only https, or http to a local endpoint)."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValueError(f"refusing to fetch keys from {url}")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse_jwks(json.loads(response.read()))


@dataclass(frozen=True)
class Verifier:
    """Accepts access tokens of one user pool issued to one of ``client_ids``."""

    issuer: str
    client_ids: frozenset[str]
    keys: Callable[[], Mapping[str, RsaKey]]
    clock: Callable[[], float] = time.time

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token; InvalidToken saying why otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a JWT")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
        except ValueError as exc:
            raise InvalidToken("header or payload is not JSON") from exc
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise InvalidToken("header or payload is not an object")
        if header.get("alg") != "RS256":
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not RS256")
        key = self.keys().get(str(header.get("kid")))
        if key is None:
            raise InvalidToken(f"unknown key id {header.get('kid')!r}")
        if not key.verifies(f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2])):
            raise InvalidToken("bad signature")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("issued by another user pool")
        if claims.get("token_use") != "access":
            raise InvalidToken(f"token_use {claims.get('token_use')!r} is not access")
        if claims.get("client_id") not in self.client_ids:
            raise InvalidToken("issued to another app client")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool) or self.clock() >= expires:
            raise InvalidToken("expired")
        return claims
