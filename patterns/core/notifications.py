"""S3 event notifications, with the acknowledgement CDK's notification handler needs.

``bucket.add_event_notification`` deploys one singleton function per stack (CDK's
``BucketNotificationsHandler``) that writes the bucket's notification configuration at deploy time.
Its role uses the AWS managed basic-execution policy, which cdk-nag flags; it is acknowledged here,
on that handler, once for every pattern that subscribes to a bucket.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from . import nag

#: The construct id aws-cdk-lib gives its singleton notification handler (stable across versions).
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
_BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)


def bucket_notification(
    bucket: s3.IBucket,
    destination: s3.IBucketNotificationDestination,
    *filters: s3.NotificationKeyFilter,
    event: s3.EventType = s3.EventType.OBJECT_CREATED,
) -> None:
    """Send ``bucket``'s ``event`` notifications (default: object created) to ``destination``.

    The destination construct adds the resource policy that lets S3 deliver (queue or topic policy);
    an encrypted topic also needs its key to trust ``s3.amazonaws.com`` (``core.topic(publishing_services=...)``).
    """
    bucket.add_event_notification(event, destination, *filters)
    handler = Stack.of(bucket).node.try_find_child(NOTIFICATIONS_HANDLER_ID)
    if handler is not None:
        nag.acknowledge(
            handler, _BASIC_EXECUTION,
            "CDK's deploy-time BucketNotificationsHandler only writes log events; the AWS managed "
            "basic-execution policy is what aws-cdk-lib attaches to it and cannot be replaced by a prop",
        )
