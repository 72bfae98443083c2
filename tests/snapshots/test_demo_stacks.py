"""Rung 2: the whole template of every demo stack, reviewed in diffs.

Masked: asset hashes, the hash suffix CDK appends to Deployment/Version logical ids, AppSync API key
expiries (computed from the synth time), and CDK metadata — none of them is the pattern's meaning;
handler code changes are covered by handler tests.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from patterns import catalog

HASH = re.compile(r"[0-9a-f]{64}")
LOGICAL_SUFFIX = re.compile(r"^(.*(?:Deployment|CurrentVersion)[A-Za-z0-9]*?)([0-9a-f]{8,32})$")


def _mask(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            renames.get(k, k): _mask(v, renames)
            for k, v in value.items()
            if not (k.startswith("aws:cdk:") or k.startswith("aws:asset:"))
        }
    if isinstance(value, list):
        return [_mask(v, renames) for v in value]
    if isinstance(value, str):
        value = HASH.sub("<asset-hash>", value)
        return renames.get(value, value)
    return value


def masked(template: dict[str, Any]) -> dict[str, Any]:
    template = json.loads(json.dumps(template))
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::AppSync::ApiKey" and "Expires" in resource.get("Properties", {}):
            resource["Properties"]["Expires"] = "<synth time + expiry>"  # an epoch second computed at synth
    template.get("Resources", {}).pop("CDKMetadata", None)
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if not template.get("Conditions"):
        template.pop("Conditions", None)
    renames = {}
    for logical_id in template.get("Resources", {}):
        match = LOGICAL_SUFFIX.match(logical_id)
        if match:
            renames[logical_id] = f"{match.group(1)}<hash>"
    return _mask(template, renames)


@pytest.mark.parametrize("stack_id", [stack for e in catalog.entries() for stack in e.stacks])
def test_demo_stack_matches_snapshot(demo_app, snapshot, stack_id: str) -> None:
    assert masked(demo_app.template(stack_id)) == snapshot.use_extension(JSONSnapshotExtension)
