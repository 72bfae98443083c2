"""CloudFormation models the local cloud adds, one module per service.

``MODELS`` lists them; cfn.local_models() registers them next to the models cfn.py still holds.
Each model follows the CloudFormation resource reference of its type: what ``Ref`` returns (name,
id or ARN), which ``Fn::GetAtt`` attributes exist, and how a name is generated when none is given.
"""

from __future__ import annotations

from .cloudfront import MODELS as CLOUDFRONT_MODELS
from .cognito import UserPool, UserPoolClient, UserPoolDomain, UserPoolGroup
from .events import EventBus, EventsApiDestination, EventsConnection
from .lambda_ import LambdaPermission, LambdaVersion
from .secrets import Secret
from .ssm import SsmParameter

MODELS: tuple[type, ...] = (
    EventBus,
    EventsConnection,
    EventsApiDestination,
    UserPool,
    UserPoolClient,
    UserPoolDomain,
    UserPoolGroup,
    Secret,
    SsmParameter,
    LambdaVersion,
    LambdaPermission,
    *CLOUDFRONT_MODELS,
)

__all__ = ["MODELS"]
