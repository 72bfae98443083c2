"""CloudFormation dynamic references: ``{{resolve:ssm:...}}`` and ``{{resolve:secretsmanager:...}}``.

CloudFormation replaces them in property values at deploy time (templates never carry the value).
Forms, from the CloudFormation user guide:

- ``{{resolve:ssm:name}}`` / ``{{resolve:ssm:name:version}}`` (and ``ssm-secure``)
- ``{{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}``; the
  secret id is a name or a full ARN, and every segment after it may be left empty.

A reference to something that does not exist fails the deploy, as on AWS.
"""

from __future__ import annotations

import json
import re

from ..errors import LocalCloudError

_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}")


def resolve(text: str, account_id: str, region: str) -> str:
    """``text`` with every dynamic reference replaced by its value."""
    if "{{resolve:" not in text:
        return text
    return _REFERENCE.sub(lambda m: _value(m.group(1), m.group(2), account_id, region), text)


def _value(service: str, reference: str, account_id: str, region: str) -> str:
    if service.startswith("ssm"):
        return _ssm(reference, account_id, region)
    return _secret(reference, account_id, region)


def _ssm(reference: str, account_id: str, region: str) -> str:
    from moto.ssm.models import ssm_backends

    name, _, version = reference.partition(":")
    backend = ssm_backends[account_id][region]
    parameter = backend.get_parameter(f"{name}:{version}" if version else name)
    if parameter is None:
        raise LocalCloudError(f"dynamic reference {{{{resolve:ssm:{reference}}}}}: parameter {name} does not exist")
    return str(parameter.value)


def _secret(reference: str, account_id: str, region: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    parts = reference.split(":")
    if parts[0] == "arn":
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (5 - len(rest))
    kind, json_key, stage, version_id = rest[0] or "SecretString", rest[1], rest[2], rest[3]
    if kind != "SecretString":
        raise LocalCloudError(f"dynamic reference to {secret_id}: only SecretString can be resolved, not {kind}")
    try:
        answer = secretsmanager_backends[account_id][region].get_secret_value(
            secret_id, version_id or None, stage or None
        )
    except Exception as exc:  # moto's ResourceNotFoundException and friends
        raise LocalCloudError(f"dynamic reference to secret {secret_id}: {exc}") from exc
    value = answer["SecretString"] if isinstance(answer, dict) else json.loads(answer)["SecretString"]
    if not json_key:
        return str(value)
    try:
        return str(json.loads(value)[json_key])
    except (ValueError, KeyError, TypeError) as exc:
        raise LocalCloudError(f"dynamic reference to secret {secret_id}: no JSON key {json_key!r}") from exc
