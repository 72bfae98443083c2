"""AWS::Events::EventBus: Ref is the bus name (moto's model has no physical id, so Ref gave an object)."""

from __future__ import annotations

from typing import Any

from ..errors import LocalCloudError
from .base import _LocalModel


class EventBus(_LocalModel):
    """A custom event bus. Ref: the name; GetAtt: Arn, Name, Policy."""

    CFN_TYPE = "AWS::Events::EventBus"

    def __init__(self, name: str, arn: str, account_id: str, region: str) -> None:
        super().__init__(name, {"Arn": arn, "Name": name})
        self.account_id, self.region = account_id, region

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Policy":
            from moto.events.models import events_backends

            bus = events_backends[self.account_id][self.region].event_buses.get(self._physical_id)
            return bus.policy if bus is not None else None
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def _create(cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any) -> EventBus:
        from moto.events.models import events_backends

        bus = events_backends[account_id][region_name].create_event_bus(
            name=props["Name"],
            event_source_name=props.get("EventSourceName"),
            description=props.get("Description"),
            kms_key_identifier=props.get("KmsKeyIdentifier"),
            dead_letter_config=props.get("DeadLetterConfig"),
            tags=props.get("Tags"),
        )
        return cls(bus.name, bus.arn, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        # Only a new Name replaces a bus; replacing it for a description change would drop its rules.
        if cloudformation_json["Properties"].get("Name") == original_resource.physical_resource_id:
            return original_resource
        return super().update_from_cloudformation_json(
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.events.models import events_backends

        backend = events_backends[account_id][region_name]
        if resource_name in backend.event_buses:
            backend.delete_event_bus(resource_name)


class EventsConnection(_LocalModel):
    """AWS::Events::Connection (the authorization an API destination sends). Ref: the name;
    GetAtt: Arn, SecretArn."""

    CFN_TYPE = "AWS::Events::Connection"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> EventsConnection:
        from moto.events.models import events_backends

        name = props.get("Name") or resource_name
        if props.get("AuthorizationType") == "OAUTH_CLIENT_CREDENTIALS":
            raise LocalCloudError(
                f"{kwargs.get('LogicalId', resource_name)} (AWS::Events::Connection): OAuth client credentials "
                "are not fetched locally (use API_KEY or BASIC)"
            )
        connection = events_backends[account_id][region_name].create_connection(
            name, props.get("Description", ""), props["AuthorizationType"], props.get("AuthParameters") or {}
        )
        return cls(name, {"Arn": connection.arn, "SecretArn": connection.secret_arn})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.events.models import events_backends

        events_backends[account_id][region_name].delete_connection(resource_name)


class EventsApiDestination(_LocalModel):
    """AWS::Events::ApiDestination (an HTTP endpoint as a rule or pipe target). Ref: the name;
    GetAtt: Arn."""

    CFN_TYPE = "AWS::Events::ApiDestination"
    GONE = (Exception,)  # deleted already

    @classmethod
    def _create(
        cls, resource_name: str, props: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> EventsApiDestination:
        from moto.events.models import events_backends

        name = props.get("Name") or resource_name
        described = events_backends[account_id][region_name].create_api_destination(
            name,
            props.get("Description", ""),
            props["ConnectionArn"],
            props["InvocationEndpoint"],
            props.get("InvocationRateLimitPerSecond", 300),
            props["HttpMethod"],
        )
        return cls(name, {"Arn": described["ApiDestinationArn"]})

    @classmethod
    def _delete(cls, resource_name: str, account_id: str, region_name: str) -> None:
        from moto.events.models import events_backends

        events_backends[account_id][region_name].delete_api_destination(resource_name)


#: What EventBridge rules and Scheduler schedules deliver to locally (delivery._call_target).
RULE_TARGET_KINDS = ("lambda", "sqs", "sns", "states", "event-bus", "logs")


def check_targets(logical_id: str, resource_type: str, targets: Any) -> None:
    """Refuse at deploy a rule or schedule target the local cloud would fail to deliver to."""
    from ..delivery.pipes import target_kind

    for target in targets if isinstance(targets, list) else [targets]:
        arn = str((target or {}).get("Arn", ""))
        kind = target_kind(arn)
        if kind not in RULE_TARGET_KINDS:
            raise LocalCloudError(
                f"{logical_id} ({resource_type}): targets of type {kind or 'unknown'} are not delivered locally ({arn})"
            )


def rule_model() -> type:
    """moto's Rule model, refusing at deploy the target kinds the local cloud does not deliver to."""
    from moto.events.models import Rule

    class RuleWithCheckedTargets(Rule):  # type: ignore[misc]
        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            targets = (cloudformation_json.get("Properties") or {}).get("Targets") or []
            check_targets(kwargs.get("LogicalId", resource_name), "AWS::Events::Rule", targets)
            return Rule.create_from_cloudformation_json(
                resource_name, cloudformation_json, account_id, region_name, **kwargs
            )

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            targets = (cloudformation_json.get("Properties") or {}).get("Targets") or []
            check_targets(new_resource_name, "AWS::Events::Rule", targets)
            return Rule.update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )

    return RuleWithCheckedTargets
