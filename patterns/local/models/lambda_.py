"""Lambda models whose moto counterparts have no physical id (Ref gave an object) or attributes."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from .base import _LocalModel


class LambdaVersion(_LocalModel):
    """A published version. Ref: the version's ARN; GetAtt: FunctionArn, Version."""

    CFN_TYPE = "AWS::Lambda::Version"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> LambdaVersion:
        from moto.awslambda.utils import get_backend

        published = get_backend(account_id, region_name).publish_version(
            props["FunctionName"], description=props.get("Description", "")
        )
        base, version = str(published.function_arn), str(published.version)
        arn = base if base.endswith(f":{version}") else f"{base}:{version}"
        return cls(arn, {"FunctionArn": arn, "Version": version})


class LambdaPermission(_LocalModel):
    """A statement of a function's resource policy. Ref: the statement id (the physical id).

    moto's model adds the statement but has no physical id (Ref gave an object) and never
    removes the statement on delete.
    """

    CFN_TYPE = "AWS::Lambda::Permission"
    GONE = (Exception,)  # the function (and its policy) is gone already

    def __init__(self, statement_id: str, function_name: str) -> None:
        super().__init__(statement_id, {})
        self.function_name = function_name

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LambdaPermission:
        from moto.awslambda.utils import get_backend

        function = get_backend(account_id, region_name).get_function(props["FunctionName"])
        statement_id = resource_name[:100]
        function.policy.add_statement(raw=json.dumps({**props, "StatementId": statement_id}))
        return cls(statement_id, function.function_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.utils import get_backend

        with contextlib.suppress(*self.GONE):
            get_backend(account_id, region_name).get_function(self.function_name).policy.del_statement(
                self._physical_id
            )

class LambdaEventInvokeConfig(_LocalModel):
    """AWS::Lambda::EventInvokeConfig: retries, max event age and destinations of async invokes."""

    CFN_TYPE = "AWS::Lambda::EventInvokeConfig"
    GONE = (Exception,)  # the function is gone already

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LambdaEventInvokeConfig:
        from moto.awslambda.utils import get_backend

        config = {
            k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig") if k in props
        }
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                config[key] = int(config[key])
        backend = get_backend(account_id, region_name)
        fn = backend.get_function(props["FunctionName"])
        fn.event_invoke_config = []
        backend.put_function_event_invoke_config(props["FunctionName"], config)
        model = cls(f"{fn.function_name}:{props.get('Qualifier', '$LATEST')}")
        model.properties = props
        return model

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.awslambda.utils import get_backend

        get_backend(account_id, region_name).get_function(resource_name.split(":")[0]).event_invoke_config = []


class LambdaAlias(_LocalModel):
    """AWS::Lambda::Alias."""

    CFN_TYPE = "AWS::Lambda::Alias"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> LambdaAlias:
        from moto.awslambda.utils import get_backend

        backend = get_backend(account_id, region_name)
        fn = backend.get_function(props["FunctionName"])
        alias = backend.create_alias(
            props["Name"],
            fn.function_name,
            str(props["FunctionVersion"]),
            props.get("Description", ""),
            props.get("RoutingConfig"),
        )
        return cls(alias.arn, {"AliasArn": alias.arn})


class LambdaUrl(_LocalModel):
    """AWS::Lambda::Url: the URL config (AuthType, Cors); the front door serves the URL (frontdoor/function_urls.py)."""

    CFN_TYPE = "AWS::Lambda::Url"

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> LambdaUrl:
        from moto.awslambda.utils import get_backend

        props = dict(props)
        target = props.pop("TargetFunctionArn")
        props.pop("Qualifier", None)
        backend = get_backend(account_id, region_name)
        config = backend.create_function_url_config(target, props)
        # AWS's FunctionUrl ends with "/" (templates append paths to it); moto's has none.
        url = config.to_dict()["FunctionUrl"].rstrip("/") + "/"
        return cls(target, {"FunctionUrl": url, "FunctionArn": config.function.function_arn})
