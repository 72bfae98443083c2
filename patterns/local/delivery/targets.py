"""Push deliveries with AWS shapes and failure handling: SNS subscriptions, EventBridge targets, S3.

moto delivers these inline and synchronously, with shapes that differ from AWS in places (SNS
Lambda events with fixed placeholder fields, no subscription dead-letter queues, no EventBridge
Lambda / SNS / Step Functions targets, S3 events without userIdentity or sequencer) and it calls
Lambda synchronously. Here Lambda is always invoked asynchronously, through the engine's queue.

Who handles a failure is the AWS split between the delivering service and Lambda:

* The service (SNS, an EventBridge rule, an EventBridge Scheduler schedule) only *hands the event
  to Lambda* (an asynchronous Invoke). What it cannot hand over goes to the subscription's or
  target's dead-letter queue: the function does not exist (``NO_RESOURCE``) or its resource policy
  does not let the service invoke it (``NO_PERMISSIONS``; schedules use their role, not checked
  locally). These are not retried. For an EventBridge target (rule or schedule), retryable
  errors of the target call (throttling, 5xx) are retried with exponential back-off within the
  target's ``RetryPolicy`` (``MaximumRetryAttempts``, default 185; ``MaximumEventAgeInSeconds``,
  default 86,400), on the engine's virtual clock, and then dead-lettered with
  ``EXHAUSTED_RETRY_CONDITION`` and ``RETRY_ATTEMPTS``.
* Once Lambda accepted the event, the function's asynchronous configuration alone applies: a
  function that runs and fails (or is throttled until the event is too old) is retried by Lambda
  (``MaximumRetryAttempts``, ``MaximumEventAgeInSeconds``) and then sent to its on-failure
  destination and its own dead-letter queue (``DeadLetterConfig``), never to the subscription's or
  target's DLQ.

Deliveries that fail without a dead-letter queue are listed in ``LocalCloud.errors``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from .clock import iso_now

if TYPE_CHECKING:
    from ..core import CloudCore


def truthy(value: Any) -> bool:
    """CloudFormation and the SNS API give booleans as bools or as "true"/"false" strings."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


# -- SNS ------------------------------------------------------------------------------------------


def _sns_envelope(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    attributes: Mapping[str, Any] | None,
    *,
    for_lambda: bool,
) -> dict[str, Any]:
    topic_arn = subscription.topic.arn
    region = topic_arn.split(":")[3]
    cert = f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local-cloud.pem"
    unsubscribe = f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}"
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn,
        "Subject": subject,
        "Message": message,
        "Timestamp": iso_now(),
        "SignatureVersion": "1",
        "Signature": "LOCALCLOUD",
        ("SigningCertUrl" if for_lambda else "SigningCertURL"): cert,
        ("UnsubscribeUrl" if for_lambda else "UnsubscribeURL"): unsubscribe,
    }
    if not for_lambda and subject is None:
        del envelope["Subject"]
    if attributes:
        envelope["MessageAttributes"] = {
            name: {"Type": value.get("Type", "String"), "Value": str(value.get("Value"))}
            for name, value in attributes.items()
        }
    elif for_lambda:
        envelope["MessageAttributes"] = {}
    return envelope


def _subscription_dead_letter(
    core: CloudCore, subscription: Any, body: dict[str, Any], code: str, message: str | None = None
) -> None:
    policy = subscription.attributes.get("RedrivePolicy")
    if isinstance(policy, str) and policy:
        policy = json.loads(policy)
    target = (policy or {}).get("deadLetterTargetArn")
    if not target:
        core.delivery_errors.append(
            f"SNS subscription {subscription.arn} could not deliver ({code}) and has no dead-letter queue"
        )
        return
    core.deliver(
        target,
        body,
        attributes={
            "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
            "ErrorCode": {"DataType": "String", "StringValue": code},
            "ErrorMessage": {
                "DataType": "String",
                "StringValue": (message or f"delivery to {subscription.endpoint} failed")[:1024],
            },
        },
    )


# -- handing an event to Lambda -------------------------------------------------------------------


def _arn_like(pattern: str, value: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(value, pattern)


def _statement_allows(statement: Mapping[str, Any], principal: str, source_arn: str, account: str) -> bool:
    if statement.get("Effect", "Allow") != "Allow":
        return False
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    if not any(a in ("*", "lambda:*", "lambda:InvokeFunction") for a in actions):
        return False
    who = statement.get("Principal", {})
    if who != "*":
        services = who.get("Service", []) if isinstance(who, dict) else []
        services = [services] if isinstance(services, str) else list(services)
        accounts = who.get("AWS", []) if isinstance(who, dict) else []
        accounts = [accounts] if isinstance(accounts, str) else list(accounts)
        if principal not in services and "*" not in accounts:
            return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for key, expected in (conditions or {}).items():
            values = [expected] if isinstance(expected, str) else list(expected)
            if key.lower() == "aws:sourcearn" and operator in ("ArnLike", "ArnEquals", "StringLike", "StringEquals"):
                if not any(_arn_like(v, source_arn) for v in values):
                    return False
            elif key.lower() == "aws:sourceaccount" and account not in values:
                return False
    return True


def lambda_refusal(
    core: CloudCore, function_arn: str, principal: str | None, source_arn: str
) -> tuple[str, str] | None:
    """Why Lambda would refuse a service's asynchronous Invoke (code, message), or None.

    Called under the backend lock. ``principal`` (``sns.amazonaws.com``, ``events.amazonaws.com``)
    must be allowed by the function's resource policy; None skips that check (role-based callers).
    """
    fn = core.moto_function(function_arn)
    if fn is None:
        return "NO_RESOURCE", f"Function not found: {function_arn}"
    if principal is None:
        return None
    statements = list(getattr(getattr(fn, "policy", None), "statements", None) or [])
    if fn.function_arn != function_arn:  # a qualified ARN: the unqualified function's policy counts too
        base = core.moto_function(fn.function_arn)
        statements += list(getattr(getattr(base, "policy", None), "statements", None) or [])
    account = source_arn.split(":")[4] if source_arn.count(":") >= 5 else ""
    if any(_statement_allows(s, principal, source_arn, account) for s in statements):
        return None
    return "NO_PERMISSIONS", (
        f"{principal} is not authorized to perform lambda:InvokeFunction on {function_arn} "
        f"for {source_arn} (no resource-based policy statement allows it)"
    )


def sns_publish(
    core: CloudCore,
    original: Any,
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    """Replacement for moto's Subscription.publish for the sqs and lambda protocols."""
    if subscription.protocol not in ("sqs", "lambda"):
        original(
            subscription,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = subscription._parse_message_structure(message, subscription.protocol)
    envelope = _sns_envelope(subscription, message, message_id, subject, message_attributes, for_lambda=False)
    if subscription.protocol == "sqs":
        from moto.sqs.exceptions import QueueDoesNotExist

        arn = subscription.endpoint.split(":")
        raw = truthy(subscription.attributes.get("RawMessageDelivery"))
        attributes: dict[str, Any] = {}
        if raw:
            for name, value in (message_attributes or {}).items():
                kind = "BinaryValue" if str(value["Type"]).startswith("Binary") else "StringValue"
                attributes[name] = {"DataType": value["Type"], kind: str(value["Value"])}
        try:
            core.sqs_backend(arn[4], arn[3]).send_message(
                arn[5],
                message if raw else json.dumps(envelope),
                message_attributes=attributes or None,
                deduplication_id=deduplication_id or (message_id if arn[5].endswith(".fifo") else None),
                group_id=group_id,
                validate_group_id=False,
            )
        except QueueDoesNotExist:
            _subscription_dead_letter(core, subscription, envelope, "NO_RESOURCE", f"{subscription.endpoint} not found")
        return
    # SNS only hands the message to Lambda; a refusal (missing function, no permission) is a
    # client-side error SNS does not retry: straight to the subscription's DLQ. Once accepted,
    # the function's own async configuration handles failures (see the module docstring).
    refusal = lambda_refusal(core, subscription.endpoint, "sns.amazonaws.com", subscription.topic.arn)
    if refusal is not None:
        _subscription_dead_letter(core, subscription, envelope, *refusal)
        return
    event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": _sns_envelope(subscription, message, message_id, subject, message_attributes, for_lambda=True),
            }
        ]
    }
    core.engine.invoke_async(subscription.endpoint, event, source=f"sns:{subscription.topic.name}")


# -- EventBridge ----------------------------------------------------------------------------------


def _json_path(document: Any, path: str) -> Any:
    from jsonpath_ng.ext import parse

    matches = parse(path).find(document)
    return matches[0].value if matches else None


def _render(template: str, values: Mapping[str, Any]) -> Any:
    """Fill ``<name>`` placeholders the way EventBridge does; a non-JSON result is a plain string.

    In a JSON template a bare placeholder becomes a JSON value and one inside quotes is inserted
    as string content; in a text template strings go in as they are.
    """
    json_template = template.lstrip().startswith(("{", "["))

    def in_string(position: int) -> bool:
        quotes, escaped = 0, False
        for char in template[:position]:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quotes += 1
        return quotes % 2 == 1

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        value = values[key]
        if json_template and not in_string(match.start()):
            return json.dumps(value)
        if isinstance(value, str):
            return json.dumps(value)[1:-1] if json_template else value
        return json.dumps(value)

    text = re.sub(r"<([A-Za-z0-9_.\-$\[\]*]+)>", substitute, template)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _transform(transformer: Mapping[str, Any], event: dict[str, Any], rule: Any) -> Any:
    """EventBridge InputTransformer: InputPathsMap names, then the template."""
    values: dict[str, Any] = {
        key: _json_path(event, path) for key, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values.update(
        {
            "aws.events.rule-arn": rule.arn,
            "aws.events.rule-name": rule.name,
            "aws.events.event.ingestion-time": event.get("time"),
            "aws.events.event": event,
            "aws.events.event.json": event,
        }
    )
    return _render(str(transformer.get("InputTemplate") or ""), values)


def render_path_template(template: str, event: Any) -> Any:
    """EventBridge Pipes InputTemplate: ``<$.body.id>`` placeholders (a JSON body is parsed first)."""
    document = event
    if isinstance(event, dict) and isinstance(event.get("body"), str):
        with contextlib.suppress(ValueError):
            document = {**event, "body": json.loads(event["body"])}
    values = {path: _json_path(document, path) for path in re.findall(r"<(\$[^>]*)>", template)}
    return _render(template, values)


def target_input(target: Mapping[str, Any], event: dict[str, Any], rule: Any) -> Any:
    if "Input" in target and target["Input"] is not None:
        raw = target["Input"]
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return raw
    if target.get("InputPath"):
        return _json_path(event, target["InputPath"])
    if target.get("InputTransformer"):
        return _transform(target["InputTransformer"], event, rule)
    return event


def _normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    event = {k: v for k, v in event.items() if k != "ingestion-time"}
    stamp = event.get("time")
    if isinstance(stamp, (int, float)):
        event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    return event


class _Undeliverable(Exception):
    """A target call failed: EventBridge's error code, and whether the error is worth a retry."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


_THROTTLING = ("throttl", "toomanyrequests", "requestlimitexceeded", "slowdown", "ratelimit")
_SERVER_ERRORS = ("internalerror", "internalfailure", "internalserver", "serviceunavailable", "serviceexception")
_NOT_FOUND = ("notfound", "nonexistent", "doesnotexist", "nosuch")
_DENIED = ("accessdenied", "notauthorized", "unauthorized", "forbidden")


def _classify(exc: Exception) -> _Undeliverable:
    """An exception of a target call as EventBridge sees it: throttling and 5xx errors are retried."""
    from moto.core.exceptions import ServiceException

    if isinstance(exc, _Undeliverable):
        return exc
    if isinstance(exc, NotImplementedError):
        return _Undeliverable("UNKNOWN", str(exc), retryable=False)
    status = getattr(exc, "code", None)
    name = str(getattr(exc, "error_type", None) or (status if isinstance(exc, ServiceException) else "")).lower()
    message = str(getattr(exc, "message", None) or getattr(exc, "description", None) or exc)
    if (isinstance(status, int) and status >= 500) or any(n in name for n in _SERVER_ERRORS):
        return _Undeliverable("INTERNAL_ERROR", message, retryable=True)
    if status == 429 or any(n in name for n in _THROTTLING):
        return _Undeliverable("THROTTLING", message, retryable=True)
    if any(n in name for n in _NOT_FOUND):
        return _Undeliverable("NO_RESOURCE", message, retryable=False)
    if any(n in name for n in _DENIED):
        return _Undeliverable("NO_PERMISSIONS", message, retryable=False)
    if isinstance(exc, ServiceException) or isinstance(status, int):
        return _Undeliverable("INVALID_PARAMETER", message, retryable=False)
    return _Undeliverable("UNKNOWN", f"{type(exc).__name__}: {message}", retryable=False)


def _backoff(retry: int) -> float:
    """EventBridge's exponential back-off before retry number ``retry`` (1-based), without jitter."""
    return float(min(2 ** (retry - 1), 300))


def _target_dead_letter(
    core: CloudCore,
    source_arn: str,
    target: Mapping[str, Any],
    payload: Any,
    failure: _Undeliverable,
    retries: int,
    exhausted: str | None,
) -> None:
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not dead_letter:
        core.delivery_errors.append(f"{source_arn} could not deliver to {target['Arn']}: {failure.message}")
        return
    source_key = "SCHEDULE_ARN" if ":schedule/" in source_arn else "RULE_ARN"
    attributes = {
        source_key: {"DataType": "String", "StringValue": source_arn},
        "TARGET_ARN": {"DataType": "String", "StringValue": target["Arn"]},
        "ERROR_CODE": {"DataType": "String", "StringValue": failure.code},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": failure.message[:1024]},
        "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(retries)},
    }
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = {"DataType": "String", "StringValue": exhausted}
    core.deliver(dead_letter, payload, attributes=attributes)


def _call_target(
    core: CloudCore,
    source_arn: str,
    label: str,
    target: Mapping[str, Any],
    payload: Any,
    event: Mapping[str, Any],
    principal: str | None,
) -> None:
    """One call of an EventBridge / Scheduler target; raises what the call raised."""
    arn: str = target["Arn"]
    parts = arn.split(":")
    service, region, account = parts[2], parts[3], parts[4]
    body = payload if isinstance(payload, str) else json.dumps(payload)
    if service == "lambda":
        refusal = lambda_refusal(core, arn, principal, source_arn)
        if refusal is not None:
            raise _Undeliverable(*refusal, retryable=False)
        core.engine.invoke_async(arn, payload, source=label)
    elif service == "sqs":
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        fifo = parts[5].endswith(".fifo")
        core.sqs_backend(account, region).send_message(
            parts[5], body, group_id=group, deduplication_id=str(event.get("id") or uuid.uuid4()) if fifo else None
        )
    elif service == "sns":
        core.sns_backend(account, region).publish(body, arn=arn)
    elif service == "states":
        core.sfn_backend(account, region).start_execution(arn, name=str(uuid.uuid4()), execution_input=body)
    elif service == "events" and "event-bus/" in arn:
        detail = payload if isinstance(payload, dict) else {"input": payload}
        core.events_backend(account, region).put_events(
            [
                {
                    "Source": event.get("source", "aws.scheduler"),
                    "DetailType": event.get("detail-type", "Scheduled Event"),
                    "Detail": json.dumps(event.get("detail", detail)),
                    "EventBusName": arn.split("/")[-1],
                    "Resources": event.get("resources", []),
                }
            ]
        )
    elif service == "logs":
        group = arn.split(":log-group:")[1].split(":")[0]
        logs = core.logs_backend(account, region)
        stream = str(uuid.uuid4())
        logs.create_log_stream(group, stream)
        logs.put_log_events(group, stream, [{"timestamp": int(time.time() * 1000), "message": body}])
    else:
        raise NotImplementedError(f"the local cloud cannot deliver to {service} targets")


def _send_to_target(
    core: CloudCore,
    source_arn: str,
    label: str,
    target: Mapping[str, Any],
    payload: Any,
    event: Mapping[str, Any],
    *,
    principal: str | None,
) -> None:
    """Deliver one payload to one EventBridge / Scheduler target, with the target's RetryPolicy.

    Lambda targets are invoked asynchronously: what the function does with the event is Lambda's
    business (its async configuration); only a refused Invoke reaches the target's DLQ.
    """
    policy = target.get("RetryPolicy") or {}
    max_retries = int(policy.get("MaximumRetryAttempts", 185))
    max_age = float(policy.get("MaximumEventAgeInSeconds", 86400))
    first_try = core.engine.clock()
    retries = 0

    def attempt() -> None:
        nonlocal retries
        try:
            with core.lock:
                _call_target(core, source_arn, label, target, payload, event, principal)
            return
        except Exception as exc:  # the target call failed: retry or dead-letter, as EventBridge does
            failure = _classify(exc)
        exhausted = None
        if failure.retryable:
            wait = _backoff(retries + 1)
            if retries >= max_retries:
                exhausted = "MaximumRetryAttempts"
            elif core.engine.clock() + wait - first_try > max_age:
                exhausted = "MaximumEventAgeInSeconds"
            else:
                retries += 1
                core.engine.schedule(wait, attempt, f"retry {retries} of {label} to {target['Arn']}")
                return
        with core.lock:
            _target_dead_letter(core, source_arn, target, payload, failure, retries, exhausted)

    attempt()


def deliver_rule_event(core: CloudCore, rule: Any, event: dict[str, Any]) -> None:
    """Send one matched event to every target of ``rule`` (called under the backend lock)."""
    event = _normalize_event(event)
    for target in list(rule.targets):
        _send_to_target(
            core,
            rule.arn,
            f"events:{rule.name}",
            target,
            target_input(target, event, rule),
            event,
            principal="events.amazonaws.com",
        )


def deliver_schedule(core: CloudCore, schedule: Any) -> None:
    """Invoke an EventBridge Scheduler schedule's target now (called under the backend lock)."""
    target = schedule.target
    raw = target.get("Input")
    payload: Any = {}
    if raw:
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw
    # EventBridge Scheduler invokes with the schedule's role (not checked locally), not a resource policy.
    _send_to_target(core, schedule.arn, f"scheduler:{schedule.name}", target, payload, {}, principal=None)


def scheduled_event(rule: Any) -> dict[str, Any]:
    """The event EventBridge sends for a schedule expression rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


# -- S3 -------------------------------------------------------------------------------------------


def s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    """An S3 event notification record with every field AWS sends."""
    obj: dict[str, Any] = {
        "key": quote_plus(key.name, safe="/"),
        "size": key.size,
        "eTag": key.etag.replace('"', ""),
        "sequencer": f"{time.time_ns():016X}",
    }
    version = getattr(key, "version_id", None)
    if version and version != "null":
        obj["versionId"] = version
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": bucket.region_name,
                "eventTime": iso_now(),
                "eventName": event_name[3:] if event_name.startswith("s3:") else event_name,
                "userIdentity": {"principalId": "AWS:LOCALCLOUD"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": uuid.uuid4().hex,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": notification_id,
                    "bucket": {
                        "name": bucket.name,
                        "ownerIdentity": {"principalId": "LOCALCLOUD"},
                        "arn": bucket.arn,
                    },
                    "object": obj,
                },
            }
        ]
    }


def _filter_rules(filter_block: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not filter_block:
        return None
    key = filter_block.get("S3Key") or filter_block.get("Key") or {}
    rules = key.get("Rules") or key.get("FilterRules") or key.get("FilterRule") or []
    return {"S3Key": {"FilterRule": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}}


def _events(entry: Mapping[str, Any]) -> list[str]:
    events = entry.get("Events") or entry.get("Event") or []
    return [events] if isinstance(events, str) else list(events)


def notification_config_to_moto(config: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation (``LambdaConfigurations``) or API (``LambdaFunctionConfigurations``) shape → moto's."""
    out: dict[str, Any] = {"TopicConfiguration": [], "QueueConfiguration": [], "CloudFunctionConfiguration": []}
    groups = (
        ("LambdaConfigurations", "Function", "CloudFunctionConfiguration", "CloudFunction"),
        ("LambdaFunctionConfigurations", "LambdaFunctionArn", "CloudFunctionConfiguration", "CloudFunction"),
        ("QueueConfigurations", "Queue", "QueueConfiguration", "Queue"),
        ("QueueConfigurations", "QueueArn", "QueueConfiguration", "Queue"),
        ("TopicConfigurations", "Topic", "TopicConfiguration", "Topic"),
        ("TopicConfigurations", "TopicArn", "TopicConfiguration", "Topic"),
    )
    for source_key, arn_key, target_key, moto_key in groups:
        for entry in config.get(source_key) or []:
            if arn_key not in entry:
                continue
            item: dict[str, Any] = {moto_key: entry[arn_key], "Event": _events(entry)}
            rules = _filter_rules(entry.get("Filter"))
            if rules:
                item["Filter"] = rules
            if entry.get("Id"):
                item["Id"] = entry["Id"]
            out[target_key].append(item)
    bridge = config.get("EventBridgeConfiguration")
    if bridge is not None and (bridge == {} or truthy(bridge.get("EventBridgeEnabled", True))):
        out["EventBridgeConfiguration"] = {}
    return {k: v for k, v in out.items() if v or k == "EventBridgeConfiguration"}


def apply_bucket_notifications(bucket: Any, config: Mapping[str, Any], *, merge: bool = False) -> None:
    """Set (or, for unmanaged CDK buckets, extend) a bucket's notification configuration."""
    moto_config = notification_config_to_moto(config)
    if merge and bucket.notification_configuration is not None:
        existing = bucket.notification_configuration
        for attribute, key, arn_key in (
            ("topic", "TopicConfiguration", "Topic"),
            ("queue", "QueueConfiguration", "Queue"),
            ("cloud_function", "CloudFunctionConfiguration", "CloudFunction"),
        ):
            for notification in getattr(existing, attribute):
                entry: dict[str, Any] = {arn_key: notification.arn, "Event": notification.events, "Id": notification.id}
                if notification.filters:
                    entry["Filter"] = notification.filters
                moto_config.setdefault(key, []).append(entry)
    bucket.set_notification_configuration(moto_config or None)
