"""S3: bucket policies and the bucket model (notifications, versioning) moto's lacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import LocalCloudError
from .base import _LocalModel, _policy_text

if TYPE_CHECKING:
    pass

#: Accepted without any local effect (metadata, observability with nothing to observe locally);
#: their Ref / GetAtt shapes are in models/inert.py. (A WaitCondition is not among them: nothing
#: would ever signal it, so on AWS it times out.)


class S3BucketPolicy(_LocalModel):
    """AWS::S3::BucketPolicy (the CDK bootstrap stack has one)."""

    CFN_TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> S3BucketPolicy:
        from moto.s3.models import s3_backends

        s3_backends[account_id]["aws"].put_bucket_policy(
            props["Bucket"], _policy_text(props["PolicyDocument"]).encode()
        )
        return cls(resource_name)


def _s3_bucket_model() -> type:
    from moto.s3.models import FakeBucket, s3_backends

    from ..delivery.targets import apply_bucket_notifications

    def configure(bucket: Any, props: Mapping[str, Any], account_id: str) -> None:
        backend = s3_backends[account_id]["aws"]
        versioning = (props.get("VersioningConfiguration") or {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        if props.get("PublicAccessBlockConfiguration"):
            backend.put_public_access_block(bucket.name, props["PublicAccessBlockConfiguration"])
        if "NotificationConfiguration" in props:
            apply_bucket_notifications(bucket, props["NotificationConfiguration"] or {})

    class BucketWithNotifications(FakeBucket):  # type: ignore[misc]
        """moto's bucket model ignores NotificationConfiguration, VersioningConfiguration and
        PublicAccessBlockConfiguration."""

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            bucket = FakeBucket.create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            configure(bucket, cloudformation_json.get("Properties", {}), account_id)
            return bucket

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            bucket = FakeBucket.update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
            configure(bucket, cloudformation_json.get("Properties", {}), account_id)
            return bucket

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            # moto silently keeps a bucket that still has objects; fail like CloudFormation, so the
            # stack deletion retries it after the auto-delete custom resource emptied it.
            backend = s3_backends[account_id]["aws"]
            if resource_name in backend.buckets and backend.buckets[resource_name].keys:
                raise LocalCloudError(f"bucket {resource_name} is not empty")
            FakeBucket.delete_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)

    return BucketWithNotifications
