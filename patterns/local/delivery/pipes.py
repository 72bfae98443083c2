"""EventBridge Pipes: what a pipe may use (checked at deploy) and how a batch reaches its target.

A pipe reads a batch from its source (SQS queue, Kinesis stream or DynamoDB stream; see
pollers.PipePoller and pollers.PipeStreamPoller), filters it, optionally enriches it with a Lambda
function, and hands it to its target. ``check`` runs when the pipe is created, so a source,
enrichment or target kind the local cloud cannot run fails the deploy naming the pipe, never the
delivery; ``deliver`` sends one batch and raises on failure (the poller retries the batch).
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import LocalCloudError

if TYPE_CHECKING:
    from ..core import CloudCore

SOURCE_KINDS = ("sqs", "kinesis", "dynamodb")
#: Target kinds by the ARN's service (``events`` splits into buses and API destinations).
TARGET_KINDS = ("lambda", "states", "sqs", "sns", "event-bus", "api-destination", "execute-api", "kinesis", "logs")
_HTTP_TIMEOUT = 10.0


def target_kind(arn: str) -> str:
    """The kind of a pipe target or enrichment ARN (``event-bus``, ``api-destination`` or the service)."""
    parts = arn.split(":")
    service = parts[2] if len(parts) > 5 else ""
    if service == "events":
        resource = parts[5].split("/")[0]
        return resource  # event-bus / api-destination / endpoint ...
    return service


def check(logical_id: str, props: Mapping[str, Any], *, front_door: bool) -> None:
    """Refuse at deploy what a pipe would fail to do at delivery."""
    where = f"{logical_id} (AWS::Pipes::Pipe)"
    source = str(props.get("Source", ""))
    if source.split(":")[2:3] and source.split(":")[2] not in SOURCE_KINDS:
        raise LocalCloudError(f"{where}: sources of type {source.split(':')[2]} do not run locally ({source})")
    enrichment = props.get("Enrichment")
    if enrichment and target_kind(str(enrichment)) != "lambda":
        raise LocalCloudError(f"{where}: only Lambda enrichment runs locally, not {enrichment}")
    target = str(props.get("Target", ""))
    kind = target_kind(target)
    if kind not in TARGET_KINDS:
        raise LocalCloudError(f"{where}: targets of type {kind or 'unknown'} do not run locally ({target})")
    if kind == "execute-api" and not front_door:
        raise LocalCloudError(f"{where}: an API Gateway target needs the local cloud's HTTP front door (it is off)")
    parameters = props.get("TargetParameters") or {}
    if kind == "kinesis" and not (parameters.get("KinesisStreamParameters") or {}).get("PartitionKey"):
        raise LocalCloudError(f"{where}: a Kinesis target needs KinesisStreamParameters.PartitionKey")


def parsed_view(event: Any, source_kind: str) -> Any:
    """The event as input templates see it: a JSON SQS ``body`` / Kinesis ``data`` is parsed."""
    if not isinstance(event, dict):
        return event
    key = {"sqs": "body", "kinesis": "data"}.get(source_kind)
    if key is None or not isinstance(event.get(key), str):
        return event
    raw = event[key]
    if key == "data":
        try:
            raw = base64.b64decode(raw).decode()
        except ValueError:
            return event
    try:
        return {**event, key: json.loads(raw)}
    except ValueError:
        return {**event, key: raw}


def deliver(core: CloudCore, pipe: Any, events: list[Any], source_kind: str) -> None:
    """Send one (filtered, enriched) batch to the pipe's target; raises when the target fails."""
    from .targets import render_path_template

    label = f"pipe:{pipe.name}"
    if pipe.enrichment:
        enriched = core.invoke(pipe.enrichment, events, source=label)
        events = enriched if isinstance(enriched, list) else [enriched]
        source_kind = "enriched"
        if not events:
            return
    parameters = pipe.target_parameters or {}
    template = parameters.get("InputTemplate")
    if template:
        events = [render_path_template(template, parsed_view(e, source_kind)) for e in events]
    target: str = pipe.target
    kind = target_kind(target)
    parts = target.split(":")
    region, account = parts[3], parts[4]
    if kind == "lambda":
        mode = (parameters.get("LambdaFunctionParameters") or {}).get("InvocationType", "REQUEST_RESPONSE")
        if mode == "FIRE_AND_FORGET":
            core.engine.invoke_async(target, events, source=label)
        else:
            core.invoke(target, events, source=label)
        return
    if kind == "execute-api":
        for event in events:  # one request per event, as Pipes calls HTTP targets
            _call_api_gateway(core, target, parameters, event)
        return
    if kind == "api-destination":
        for event in events:
            _call_api_destination(core, target, parameters, event)
        return
    bodies = [e if isinstance(e, str) else json.dumps(e) for e in events]
    with core.lock:
        if kind == "sqs":
            sqs_params = parameters.get("SqsQueueParameters") or {}
            for body in bodies:
                core.sqs_backend(account, region).send_message(
                    parts[5],
                    body,
                    group_id=sqs_params.get("MessageGroupId"),
                    deduplication_id=sqs_params.get("MessageDeduplicationId"),
                )
        elif kind == "sns":
            for body in bodies:
                core.sns_backend(account, region).publish(body, arn=target)
        elif kind == "states":
            # FIRE_AND_FORGET (standard) and REQUEST_RESPONSE (express) both start one execution per batch.
            core.sfn_backend(account, region).start_execution(
                target, name=str(uuid.uuid4()), execution_input=json.dumps(events)
            )
        elif kind == "event-bus":
            bus = parameters.get("EventBridgeEventBusParameters") or {}
            detail_type = bus.get("DetailType", f"Event from aws:{source_kind}")
            entries = [
                {
                    "Source": bus.get("Source", f"Pipe {pipe.name}"),
                    "DetailType": detail_type,
                    "Detail": body if body.lstrip().startswith("{") else json.dumps({"input": body}),
                    "EventBusName": target.split("/")[-1],
                    "Resources": bus.get("Resources", []),
                }
                for body in bodies
            ]
            core.events_backend(account, region).put_events(entries)
        elif kind == "kinesis":
            key_template = (parameters.get("KinesisStreamParameters") or {})["PartitionKey"]
            backend = core.kinesis_backend(account, region)
            for event, body in zip(events, bodies, strict=True):
                key = render_path_template(key_template, event) if "<$" in key_template else key_template
                backend.put_record(
                    stream_arn=target,
                    stream_name=target.split("/")[-1],
                    partition_key=str(key),
                    explicit_hash_key="",
                    data=base64.b64encode(body.encode()).decode(),  # moto keeps Data as the API sends it
                )
        elif kind == "logs":
            group = target.split(":log-group:")[1].split(":")[0]
            logs = core.logs_backend(account, region)
            stream = str(uuid.uuid4())
            logs.create_log_stream(group, stream)
            now = int(time.time() * 1000)
            logs.put_log_events(group, stream, [{"timestamp": now, "message": body} for body in bodies])
        else:  # check() refused it at deploy; a pipe created through the API may still get here
            raise LocalCloudError(f"pipe {pipe.name}: targets of type {kind} do not run locally")


def _http_parameters(parameters: Mapping[str, Any]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    http = parameters.get("HttpParameters") or {}
    return (
        [str(v) for v in http.get("PathParameterValues") or []],
        {str(k): str(v) for k, v in (http.get("HeaderParameters") or {}).items()},
        {str(k): str(v) for k, v in (http.get("QueryStringParameters") or {}).items()},
    )


def _send(method: str, url: str, headers: Mapping[str, str], body: Any) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    request = urllib.request.Request(
        url, data=data.encode() if method not in ("GET", "HEAD") else None, method=method, headers=dict(headers)
    )
    request.add_header("Content-Type", headers.get("Content-Type", "application/json"))
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        # Pipes retries 429 and 5xx; a 4xx is a failed batch too (it lands in the dead-letter queue).
        raise LocalCloudError(f"{method} {url} answered {exc.code}") from exc


def _fill_path(path: str, values: list[str]) -> str:
    segments = path.split("/")
    filled = iter(values)
    return "/".join(next(filled, "*") if segment == "*" else segment for segment in segments)


def _call_api_gateway(core: CloudCore, target: str, parameters: Mapping[str, Any], event: Any) -> None:
    """``arn:aws:execute-api:region:account:api-id/stage/METHOD/path``, through the front door."""
    base = getattr(core, "front_door_url", None)
    if not base:
        raise LocalCloudError(f"{target}: the HTTP front door is not running")
    api_id, stage, method, *path = target.split(":")[5].split("/")
    values, headers, query = _http_parameters(parameters)
    url = f"{base}/{api_id}" + ("" if stage == "$default" else f"/{stage}") + "/" + _fill_path("/".join(path), values)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    _send("POST" if method == "*" else method.upper(), url, headers, event)


def _call_api_destination(core: CloudCore, target: str, parameters: Mapping[str, Any], event: Any) -> None:
    """An API destination: its endpoint and method, with the connection's authorization."""
    parts = target.split(":")
    region, account, name = parts[3], parts[4], parts[5].split("/")[1]
    with core.lock:
        backend = core.events_backend(account, region)
        destination = backend.destinations.get(name)
        connection = next(
            (c for c in backend.connections.values() if destination and c.arn == destination.connection_arn), None
        )
    if destination is None:
        raise LocalCloudError(f"API destination {name} does not exist")
    values, headers, query = _http_parameters(parameters)
    if connection is not None:
        headers.update(_connection_headers(connection))
    url = destination.invocation_endpoint.replace("*", values[0]) if values else destination.invocation_endpoint
    url = _local_url(core, url)
    if query:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
    _send(destination.http_method.upper(), url, headers, event)


_EXECUTE_API = re.compile(r"https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(/.*)?$")


def _local_url(core: CloudCore, url: str) -> str:
    """An endpoint on an API Gateway API of this cloud is served by its front door."""
    match = _EXECUTE_API.match(url)
    base = getattr(core, "front_door_url", None)
    if match is None or not base:
        return url
    return f"{base}/{match.group(1)}{match.group(2) or '/'}"


def _connection_headers(connection: Any) -> dict[str, str]:
    auth = connection.auth_parameters or {}
    headers: dict[str, str] = {}
    if connection.authorization_type == "API_KEY":
        key = auth.get("ApiKeyAuthParameters") or {}
        headers[str(key.get("ApiKeyName"))] = str(key.get("ApiKeyValue"))
    elif connection.authorization_type == "BASIC":
        basic = auth.get("BasicAuthParameters") or {}
        token = base64.b64encode(f"{basic.get('Username')}:{basic.get('Password')}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif connection.authorization_type == "OAUTH_CLIENT_CREDENTIALS":
        raise LocalCloudError(f"connection {connection.name}: OAuth client credentials are not fetched locally")
    for header in (auth.get("InvocationHttpParameters") or {}).get("HeaderParameters") or []:
        headers[str(header.get("Key"))] = str(header.get("Value"))
    return headers
