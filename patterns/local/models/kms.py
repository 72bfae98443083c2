"""AWS::KMS::Key: KeyPolicy is optional in CloudFormation (moto's model requires it)."""

from __future__ import annotations

import json
from typing import Any


def key_model() -> type:
    """moto's Key model, with CloudFormation's default key policy when the template has none."""
    from moto.kms.models import Key

    class KeyWithDefaultPolicy(Key):  # type: ignore[misc]
        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            props = cloudformation_json.setdefault("Properties", {})
            if "KeyPolicy" not in props:
                # The default key policy: the account (its IAM policies) may use the key.
                props["KeyPolicy"] = json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "Enable IAM User Permissions",
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                                "Action": "kms:*",
                                "Resource": "*",
                            }
                        ],
                    }
                )
            return Key.create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )

    return KeyWithDefaultPolicy
