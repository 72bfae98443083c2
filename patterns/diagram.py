"""Mermaid data-flow diagrams from synthesized CloudFormation templates.

``python -m patterns diagram cdk.out --stack MyStack`` (or a template file) prints a flowchart of how
data moves through a stack: API routes and their integrations, event source mappings, SNS
subscriptions with their filters, S3 and EventBridge notifications, rules and schedules, Pipes,
Step Functions tasks, DLQs and on-failure destinations, CloudFront origins, AppSync data sources, and
the writes a function's IAM policy allows. It reads only the template, so it works for any CDK app,
not just this library's; roles, policies, log groups, alarms and other plumbing are left out unless
``plumbing=True``. Output is sorted and uses logical ids as node ids, so it can be checked in.

A resource type it does not know is drawn as a plain node, never dropped.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: type → (what the label says, Mermaid shape open, close)
_KINDS: dict[str, tuple[str, str, str]] = {
    "AWS::Lambda::Function": ("Lambda function", "(", ")"),
    "AWS::Serverless::Function": ("Lambda function", "(", ")"),
    "AWS::DynamoDB::Table": ("DynamoDB table", "[(", ")]"),
    "AWS::DynamoDB::GlobalTable": ("DynamoDB table", "[(", ")]"),
    "AWS::S3::Bucket": ("S3 bucket", "[(", ")]"),
    "AWS::SQS::Queue": ("SQS queue", "([", "])"),
    "AWS::SNS::Topic": ("SNS topic", "([", "])"),
    "AWS::Kinesis::Stream": ("Kinesis stream", "([", "])"),
    "AWS::KinesisFirehose::DeliveryStream": ("Firehose stream", "([", "])"),
    "AWS::Events::EventBus": ("EventBridge bus", "([", "])"),
    "AWS::Events::Rule": ("EventBridge rule", "[[", "]]"),
    "AWS::Scheduler::Schedule": ("EventBridge schedule", "[[", "]]"),
    "AWS::Pipes::Pipe": ("EventBridge pipe", "[[", "]]"),
    "AWS::StepFunctions::StateMachine": ("state machine", "[[", "]]"),
    "AWS::ApiGateway::RestApi": ("REST API", "{{", "}}"),
    "AWS::ApiGatewayV2::Api": ("HTTP API", "{{", "}}"),
    "AWS::AppSync::GraphQLApi": ("GraphQL API", "{{", "}}"),
    "AWS::CloudFront::Distribution": ("CloudFront distribution", "{{", "}}"),
    "AWS::ApiGateway::DomainName": ("custom domain", "{{", "}}"),
    "AWS::ApiGatewayV2::DomainName": ("custom domain", "{{", "}}"),
    "AWS::Cognito::UserPool": ("Cognito user pool", "[", "]"),
}

#: Types that are wiring or plumbing: drawn as edges (or not at all), shown as nodes with ``plumbing``.
_PLUMBING_PREFIXES = (
    "AWS::IAM::",
    "AWS::Logs::",
    "AWS::CloudWatch::",
    "AWS::KMS::",
    "AWS::XRay::",
    "AWS::CDK::",
    "AWS::SSM::",
    "Custom::",
    "AWS::CloudFormation::",
)
_PLUMBING_TYPES = {
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Url",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::LayerVersionPermission",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::TopicInlinePolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SQS::QueueInlinePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::Events::EventBusPolicy",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::Kinesis::StreamConsumer",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::CloudFrontOriginAccessIdentity",
    "AWS::CloudFront::Function",
    "AWS::CloudFront::CachePolicy",
    "AWS::CloudFront::OriginRequestPolicy",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolResourceServer",
}
_API_PARTS = ("AWS::ApiGateway::", "AWS::ApiGatewayV2::", "AWS::AppSync::")
_API_NODES = {
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGatewayV2::Api",
    "AWS::AppSync::GraphQLApi",
    "AWS::ApiGateway::DomainName",
    "AWS::ApiGatewayV2::DomainName",
}

#: IAM actions that move data to another resource, by service: (action patterns, edge label).
_WRITES: dict[str, tuple[tuple[str, ...], str]] = {
    "dynamodb": (("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"), "writes"),
    "sqs": (("SendMessage",), "sends"),
    "sns": (("Publish",), "publishes"),
    "events": (("PutEvents",), "puts events"),
    "s3": (("PutObject",), "puts objects"),
    "kinesis": (("PutRecord", "PutRecords"), "puts records"),
    "firehose": (("PutRecord", "PutRecordBatch"), "puts records"),
    "states": (("StartExecution", "StartSyncExecution"), "starts"),
    "lambda": (("InvokeFunction",), "invokes"),
}

_TOKEN = re.compile(r"@@ref:([A-Za-z0-9]+)@@")
_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")
DEFAULT_BUS = "default_event_bus"


@dataclass(frozen=True, order=True)
class Edge:
    """One arrow: ``source`` → ``target`` (node ids); dashed for failure paths."""

    source: str
    target: str
    label: str = ""
    failure: bool = False


@dataclass
class Diagram:
    """Nodes (id → label, shape) and edges of one template, rendered by :meth:`mermaid`."""

    nodes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)
    direction: str = "LR"

    def mermaid(self) -> str:
        lines = [f"flowchart {self.direction}"]
        for node_id in sorted(self.nodes):
            label, opening, closing = self.nodes[node_id]
            lines.append(f'  {node_id}{opening}"{_escape(label)}"{closing}')
        merged: dict[tuple[str, str, bool], set[str]] = {}
        for edge in self.edges:
            merged.setdefault((edge.source, edge.target, edge.failure), set()).add(edge.label)
        for (source, target, failure), labels in sorted(merged.items()):
            arrow = "-.->" if failure else "-->"
            text = ", ".join(sorted(label for label in labels if label))
            lines.append(f'  {source} {arrow}|"{_escape(text)}"| {target}' if text else f"  {source} {arrow} {target}")
        return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    for raw, entity in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;")):
        text = text.replace(raw, entity)
    return text.replace("\n", "<br/>")


def refs(value: Any) -> list[str]:
    """Logical ids a template value points at (Ref, Fn::GetAtt, ${X} in Fn::Sub), in order."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if "Ref" in v and isinstance(v["Ref"], str):
                found.append(v["Ref"])
                return
            if "Fn::GetAtt" in v:
                target = v["Fn::GetAtt"]
                found.append(target[0] if isinstance(target, list) else str(target).split(".")[0])
                return
            if "Fn::Sub" in v:
                body = v["Fn::Sub"]
                text, variables = (body[0], body[1]) if isinstance(body, list) else (body, {})
                for name in _SUB_VAR.findall(str(text)):
                    if name not in variables:
                        found.append(name.split(".")[0])
                walk(variables)
                return
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return [r for r in found if not r.startswith("AWS::")]


def flatten(value: Any) -> str:
    """A template value as one string, with ``@@ref:Id@@`` where it points at a resource.

    CDK emits JSON documents (state machine definitions) as Fn::Join of literal pieces and
    references; flattening lets the document be parsed and the references found inside it.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return json.dumps(value)
    if isinstance(value, list):
        return "".join(flatten(v) for v in value)
    if isinstance(value, dict):
        if "Ref" in value:
            name = str(value["Ref"])
            return name.split("::")[-1].lower() if name.startswith("AWS::") else f"@@ref:{name}@@"
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return f"@@ref:{target[0] if isinstance(target, list) else str(target).split('.')[0]}@@"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(flatten(p) for p in parts) if isinstance(parts, list) else flatten(parts)
        if "Fn::Sub" in value:
            body = value["Fn::Sub"]
            text, variables = (body[0], body[1]) if isinstance(body, list) else (body, {})

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return flatten(variables[name])
                if name.startswith("AWS::"):
                    return name.split("::")[-1].lower()
                return f"@@ref:{name.split('.')[0]}@@"

            return _SUB_VAR.sub(substitute, str(text))
        return "".join(f"@@ref:{r}@@" for r in refs(value))
    return ""


class _Reader:
    """Turns one template into a :class:`Diagram`."""

    def __init__(self, template: Mapping[str, Any], *, plumbing: bool, direction: str) -> None:
        self.resources: dict[str, dict[str, Any]] = dict(template.get("Resources") or {})
        self.plumbing = plumbing
        self.diagram = Diagram(direction=direction)
        self.stack_prefix = self._stack_prefix()
        self.hidden = self._hidden()
        self.aliases = self._aliases()

    # -- nodes -----------------------------------------------------------------------------------

    def _stack_prefix(self) -> str:
        paths = [str((r.get("Metadata") or {}).get("aws:cdk:path", "")) for r in self.resources.values()]
        firsts = {p.split("/", 1)[0] for p in paths if "/" in p}
        return f"{firsts.pop()}/" if len(firsts) == 1 else ""

    def type(self, logical_id: str) -> str:
        return str(self.resources.get(logical_id, {}).get("Type", ""))

    def props(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources.get(logical_id, {}).get("Properties") or {})

    def label(self, logical_id: str) -> str:
        path = str((self.resources[logical_id].get("Metadata") or {}).get("aws:cdk:path", ""))
        if path:
            path = path.removeprefix(self.stack_prefix)
            for suffix in ("/Resource", "/Default"):
                path = path.removesuffix(suffix)
        name = path or logical_id
        kind = _KINDS.get(self.type(logical_id), (self.type(logical_id), "", ""))[0]
        if self.type(logical_id) == "AWS::SQS::Queue" and self.props(logical_id).get("FifoQueue"):
            kind = "SQS FIFO queue"
        return f"{name}\n{kind}"

    def _is_plumbing_type(self, logical_id: str) -> bool:
        kind = self.type(logical_id)
        if kind in _PLUMBING_TYPES or kind.startswith(_PLUMBING_PREFIXES):
            return True
        return kind.startswith(_API_PARTS) and kind not in _API_NODES

    def _hidden(self) -> set[str]:
        """Plumbing, and the functions that only serve custom resources (CDK's own providers)."""
        hidden = {lid for lid in self.resources if self._is_plumbing_type(lid)}
        for lid, resource in self.resources.items():
            kind = self.type(lid)
            if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                hidden.update(r for r in refs(self.props(lid).get("ServiceToken")) if r in self.resources)
            path = str((resource.get("Metadata") or {}).get("aws:cdk:path", ""))
            if kind == "AWS::Lambda::Function" and ("Custom::" in path or "BucketNotificationsHandler" in path):
                hidden.add(lid)
        return set() if self.plumbing else hidden

    def _aliases(self) -> dict[str, str]:
        """Resources that stand for another one on an edge: a version or URL is its function, ..."""
        aliases: dict[str, str] = {}
        for lid in self.resources:
            kind, props = self.type(lid), self.props(lid)
            target: list[str] = []
            if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
                target = refs(props.get("FunctionName"))
            elif kind == "AWS::Lambda::Url":
                target = refs(props.get("TargetFunctionArn"))
            elif kind == "AWS::Kinesis::StreamConsumer":
                target = refs(props.get("StreamARN"))
            elif kind in ("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment"):
                target = refs(props.get("RestApiId"))
            elif kind == "AWS::ApiGatewayV2::Stage":
                target = refs(props.get("ApiId"))
            if target and target[0] in self.resources:
                aliases[lid] = target[0]
        return aliases

    def node(self, logical_id: str) -> str | None:
        """The node id for a resource (after aliases), added to the diagram; None when hidden."""
        seen = set()
        while logical_id in self.aliases and logical_id not in seen:
            seen.add(logical_id)
            logical_id = self.aliases[logical_id]
        if logical_id not in self.resources or logical_id in self.hidden:
            return None
        node_id = _node_id(logical_id)
        if node_id not in self.diagram.nodes:
            _, opening, closing = _KINDS.get(self.type(logical_id), ("", "[", "]"))
            self.diagram.nodes[node_id] = (self.label(logical_id), opening, closing)
        return node_id

    def external(self, text: str) -> str:
        """A node for something outside the template (an ARN, a URL, an import)."""
        if re.search(r":event-bus/default$", text) or text == "default":
            node_id, label = DEFAULT_BUS, "default event bus\nEventBridge bus"
            self.diagram.nodes.setdefault(node_id, (label, "([", "])"))
            return node_id
        digest = hashlib.sha1(text.encode()).hexdigest()[:6]
        node_id = f"ext_{re.sub(r'[^A-Za-z0-9]+', '_', text)[:40].strip('_')}_{digest}"
        self.diagram.nodes.setdefault(node_id, (f"{text}\nexternal", "[", "]"))
        return node_id

    def targets(self, value: Any) -> list[str]:
        """Node ids a property value points at: template resources, else an external node."""
        if value is None:
            return []
        if isinstance(value, list):
            return sorted({t for item in value for t in self.targets(item)})
        ids = [r for r in refs(value) if r in self.resources]
        if ids:
            return sorted({n for r in ids if (n := self.node(r))})
        if isinstance(value, dict):
            if "Fn::ImportValue" in value:
                return [self.external(f"import {flatten(value['Fn::ImportValue'])}")]
            if isinstance(value.get("Fn::GetStackOutput"), dict):  # a weak cross-stack reference
                return [self.external(f"stack {flatten(value['Fn::GetStackOutput'].get('StackName'))}")]
            text = flatten(value)
            return [self.external(text)] if text.endswith(":event-bus/default") else []
        if isinstance(value, str) and value and value != "*":
            return [self.external(value)]
        return []

    def edge(self, sources: list[str], targets: list[str], label: str = "", *, failure: bool = False) -> None:
        for source in sources:
            for target in targets:
                self.diagram.edges.add(Edge(source, target, label, failure))

    # -- reading ---------------------------------------------------------------------------------

    def read(self) -> Diagram:
        for lid in self.resources:
            if lid not in self.hidden and self.type(lid) not in ("AWS::CDK::Metadata",):
                self.node(lid)
        for lid in sorted(self.resources):
            reader = getattr(self, "_" + self.type(lid).replace("::", "_").replace("-", "_").lower(), None)
            if reader is not None:
                reader(lid, self.props(lid))
        self._rest_api_methods()
        self._iam_writes()
        if self.plumbing:
            self._plumbing_edges()
        return self.diagram

    def _aws_sqs_queue(self, lid: str, props: dict[str, Any]) -> None:
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, dict):
            receives = redrive.get("maxReceiveCount")
            label = f"DLQ after {receives} receives" if receives is not None else "DLQ"
            self.edge(self._own(lid), self.targets(redrive.get("deadLetterTargetArn")), label, failure=True)

    def _aws_lambda_function(self, lid: str, props: dict[str, Any]) -> None:
        dlq = (props.get("DeadLetterConfig") or {}).get("TargetArn")
        self.edge(self._own(lid), self.targets(dlq), "DLQ (async)", failure=True)

    def _aws_lambda_eventinvokeconfig(self, lid: str, props: dict[str, Any]) -> None:
        function = self.targets(props.get("FunctionName"))
        config = props.get("DestinationConfig") or {}
        self.edge(function, self.targets((config.get("OnSuccess") or {}).get("Destination")), "on success")
        failure = self.targets((config.get("OnFailure") or {}).get("Destination"))
        self.edge(function, failure, "on failure", failure=True)

    def _aws_lambda_eventsourcemapping(self, lid: str, props: dict[str, Any]) -> None:
        function = self.targets(props.get("FunctionName"))
        details = []
        if "BatchSize" in props:
            details.append(f"batch {props['BatchSize']}")
        if props.get("MaximumBatchingWindowInSeconds"):
            details.append(f"window {props['MaximumBatchingWindowInSeconds']} s")
        if (props.get("ScalingConfig") or {}).get("MaximumConcurrency"):
            details.append(f"max concurrency {props['ScalingConfig']['MaximumConcurrency']}")
        if props.get("ParallelizationFactor"):
            details.append(f"parallelization {props['ParallelizationFactor']}")
        if props.get("BisectBatchOnFunctionError"):
            details.append("bisect")
        if props.get("FilterCriteria"):
            details.append("filtered")
        if "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []):
            details.append("partial batch")
        source = self.targets(props.get("EventSourceArn") or props.get("SelfManagedEventSource"))
        self.edge(source, function, ", ".join(details))
        failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self.edge(function, self.targets(failure), "on failure", failure=True)

    def _aws_sns_subscription(self, lid: str, props: dict[str, Any]) -> None:
        self._subscription(self.targets(props.get("TopicArn")), props)

    def _aws_sns_topic(self, lid: str, props: dict[str, Any]) -> None:
        for subscription in props.get("Subscription") or []:
            self._subscription(self._own(lid), subscription)

    def _subscription(self, topic: list[str], props: dict[str, Any]) -> None:
        endpoint = self.targets(props.get("Endpoint"))
        details = []
        if props.get("FilterPolicy"):
            scope = "body filter" if props.get("FilterPolicyScope") == "MessageBody" else "filter"
            policy = props["FilterPolicy"]
            policy = json.loads(policy) if isinstance(policy, str) else policy
            details.append(f"{scope} {json.dumps(policy, sort_keys=True, separators=(',', ':'))}")
        if props.get("RawMessageDelivery") in (True, "true"):
            details.append("raw")
        self.edge(topic, endpoint, " ".join(details))
        dlq = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        self.edge(topic, self.targets(dlq), "subscription DLQ", failure=True)

    def _custom_s3bucketnotifications(self, lid: str, props: dict[str, Any]) -> None:
        self._bucket_notifications(self.targets(props.get("BucketName")), props.get("NotificationConfiguration"))

    def _aws_s3_bucket(self, lid: str, props: dict[str, Any]) -> None:
        self._bucket_notifications(self._own(lid), props.get("NotificationConfiguration"))

    def _bucket_notifications(self, bucket: list[str], config: Any) -> None:
        if not isinstance(config, dict):
            return
        for key, arn_key in (
            ("QueueConfigurations", "Queue"),
            ("TopicConfigurations", "Topic"),
            ("LambdaConfigurations", "Function"),
            ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
        ):
            for item in config.get(key) or []:
                target = item.get(arn_key) or item.get(f"{arn_key}Arn") or item.get("LambdaFunctionArn")
                rules = ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
                keys = " ".join(f"{r.get('Name', '').lower()}={r.get('Value')}" for r in rules)
                events = item.get("Events") or [item.get("Event", "")]
                label = " ".join(filter(None, [*map(str, events), keys]))
                self.edge(bucket, self.targets(target), label)
        if "EventBridgeConfiguration" in config:
            self.edge(bucket, [self.external("default")], "S3 events")

    def _aws_events_rule(self, lid: str, props: dict[str, Any]) -> None:
        rule = self._own(lid)
        if props.get("EventPattern"):
            bus = self.targets(props.get("EventBusName")) or [self.external("default")]
            pattern = props["EventPattern"]
            self.edge(bus, rule, json.dumps(pattern, sort_keys=True, separators=(",", ":")) if pattern else "")
        if rule and props.get("ScheduleExpression"):
            self.diagram.nodes[rule[0]] = (
                f"{self.label(lid)}\n{props['ScheduleExpression']}",
                *self.diagram.nodes[rule[0]][1:],
            )
        for target in props.get("Targets") or []:
            self.edge(rule, self.targets(target.get("Arn")), str(target.get("Id", "")))
            dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
            self.edge(rule, self.targets(dlq), f"DLQ of {target.get('Id', 'target')}", failure=True)

    def _aws_scheduler_schedule(self, lid: str, props: dict[str, Any]) -> None:
        schedule = self._own(lid)
        if schedule and props.get("ScheduleExpression"):
            self.diagram.nodes[schedule[0]] = (
                f"{self.label(lid)}\n{props['ScheduleExpression']}",
                *self.diagram.nodes[schedule[0]][1:],
            )
        target = props.get("Target") or {}
        self.edge(schedule, self.targets(target.get("Arn")))
        self.edge(schedule, self.targets((target.get("DeadLetterConfig") or {}).get("Arn")), "DLQ", failure=True)

    def _aws_pipes_pipe(self, lid: str, props: dict[str, Any]) -> None:
        pipe = self._own(lid)
        source = props.get("SourceParameters") or {}
        details = []
        for params in source.values():
            if isinstance(params, dict) and "BatchSize" in params:
                details.append(f"batch {params['BatchSize']}")
        if source.get("FilterCriteria"):
            details.append("filtered")
        self.edge(self.targets(props.get("Source")), pipe, ", ".join(details))
        self.edge(pipe, self.targets(props.get("Enrichment")), "enrichment")
        self.edge(pipe, self.targets(props.get("Target")), "target")

    def _aws_kinesisfirehose_deliverystream(self, lid: str, props: dict[str, Any]) -> None:
        stream = self._own(lid)
        source = (props.get("KinesisStreamSourceConfiguration") or {}).get("KinesisStreamARN")
        self.edge(self.targets(source), stream)
        for key in ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration"):
            self.edge(stream, self.targets((props.get(key) or {}).get("BucketARN")), "delivers")

    def _aws_stepfunctions_statemachine(self, lid: str, props: dict[str, Any]) -> None:
        machine = self._own(lid)
        definition = props.get("Definition")
        if definition is None:
            text = flatten(props.get("DefinitionString", ""))
            for name, value in (props.get("DefinitionSubstitutions") or {}).items():
                text = text.replace(f"${{{name}}}", flatten(value))
            try:
                definition = json.loads(text) if text else {}
            except json.JSONDecodeError:
                return
        for state_name, state in _task_states(definition):
            found = _TOKEN.findall(json.dumps({k: state.get(k) for k in ("Resource", "Parameters", "Arguments")}))
            for target in sorted(set(found)):
                if target in self.resources:
                    self.edge(machine, [n] if (n := self.node(target)) else [], state_name)

    def _aws_apigateway_basepathmapping(self, lid: str, props: dict[str, Any]) -> None:
        """A custom domain's base path → the REST API it maps (often another stack's)."""
        self.edge(self.targets(props.get("DomainName")), self.targets(props.get("RestApiId")),
                  "/" + str(props.get("BasePath") or ""))

    def _aws_apigatewayv2_apimapping(self, lid: str, props: dict[str, Any]) -> None:
        """A custom domain's API mapping key → the API it maps."""
        self.edge(self.targets(props.get("DomainName")), self.targets(props.get("ApiId")),
                  "/" + str(props.get("ApiMappingKey") or ""))

    def _aws_apigatewayv2_route(self, lid: str, props: dict[str, Any]) -> None:
        api = self.targets(props.get("ApiId"))
        integration = [r for r in refs(props.get("Target")) if self.type(r) == "AWS::ApiGatewayV2::Integration"]
        for ref in integration:
            self.edge(api, self._integration_targets(self.props(ref)), str(props.get("RouteKey", "")))

    def _integration_targets(self, props: dict[str, Any]) -> list[str]:
        """What an API integration reaches: resources in its URI, request templates or parameters."""
        parts = [props.get(k) for k in ("Uri", "IntegrationUri", "RequestTemplates", "RequestParameters")]
        found = self.targets([p for p in parts if p is not None])
        if found:
            return found
        uri = props.get("Uri") or props.get("IntegrationUri")
        return [self.external(flatten(uri))] if uri else []

    def _rest_api_methods(self) -> None:
        paths: dict[str, str] = {}

        def path_of(ref: Any) -> str:
            ids = refs(ref)
            if not ids or self.type(ids[0]) != "AWS::ApiGateway::Resource":
                return "/"
            resource = ids[0]
            if resource not in paths:
                props = self.props(resource)
                parent = path_of(props.get("ParentId")).rstrip("/")
                paths[resource] = f"{parent}/{props.get('PathPart', '')}"
            return paths[resource]

        for lid in sorted(self.resources):
            if self.type(lid) != "AWS::ApiGateway::Method":
                continue
            props = self.props(lid)
            integration = props.get("Integration") or {}
            if props.get("HttpMethod") == "OPTIONS" or integration.get("Type") in (None, "MOCK"):
                continue
            route = f"{props.get('HttpMethod')} {path_of(props.get('ResourceId'))}"
            self.edge(self.targets(props.get("RestApiId")), self._integration_targets(integration), route)

    def _aws_cloudfront_distribution(self, lid: str, props: dict[str, Any]) -> None:
        config = props.get("DistributionConfig") or {}
        served: dict[str, list[str]] = {}
        default = config.get("DefaultCacheBehavior") or {}
        served.setdefault(str(default.get("TargetOriginId")), []).append("default")
        for behaviour in config.get("CacheBehaviors") or []:
            served.setdefault(str(behaviour.get("TargetOriginId")), []).append(str(behaviour.get("PathPattern")))
        for origin in config.get("Origins") or []:
            found = self.targets(origin.get("DomainName"))
            label = " ".join(served.get(str(origin.get("Id")), [])) or str(origin.get("Id", ""))
            self.edge(self._own(lid), found, label)
        for group in (config.get("OriginGroups") or {}).get("Items") or []:
            for member in (group.get("Members") or {}).get("Items") or []:
                for origin in config.get("Origins") or []:
                    if origin.get("Id") == member.get("OriginId"):
                        self.edge(self._own(lid), self.targets(origin.get("DomainName")), "failover")

    def _aws_appsync_resolver(self, lid: str, props: dict[str, Any]) -> None:
        api = self.targets(props.get("ApiId"))
        field_name = f"{props.get('TypeName')}.{props.get('FieldName')}"
        sources = refs(props.get("DataSourceName"))
        for function in refs((props.get("PipelineConfig") or {}).get("Functions")):
            sources += refs(self.props(function).get("DataSourceName"))
        for source in sources:
            if self.type(source) == "AWS::AppSync::DataSource":
                self.edge(api, self._data_source_targets(source), field_name)

    def _aws_appsync_datasource(self, lid: str, props: dict[str, Any]) -> None:
        used = any(
            lid in refs(self.props(r).get("DataSourceName"))
            for r in self.resources
            if self.type(r) in ("AWS::AppSync::Resolver", "AWS::AppSync::FunctionConfiguration")
        )
        if not used:
            api = self.targets(props.get("ApiId"))
            self.edge(api, self._data_source_targets(lid), f"data source {props.get('Name')}")

    def _data_source_targets(self, source: str) -> list[str]:
        props = self.props(source)
        for key, inner in (
            ("LambdaConfig", "LambdaFunctionArn"),
            ("DynamoDBConfig", "TableName"),
            ("EventBridgeConfig", "EventBusArn"),
            ("HttpConfig", "Endpoint"),
            ("RelationalDatabaseConfig", "RdsHttpEndpointConfig"),
            ("OpenSearchServiceConfig", "Endpoint"),
        ):
            if key in props:
                return self.targets((props[key] or {}).get(inner))
        return []

    def _iam_writes(self) -> None:
        """Function → resource for every write action its role's policies allow on a named resource."""
        wired = {(e.source, e.target) for e in self.diagram.edges}  # a destination already says it
        principals: dict[str, list[str]] = {}
        for lid in sorted(self.resources):
            if self.type(lid) == "AWS::Lambda::Function" and (node := self.node(lid)):
                for role in refs(self.props(lid).get("Role")):
                    principals.setdefault(role, []).append(node)
        for lid in sorted(self.resources):
            kind, props = self.type(lid), self.props(lid)
            documents: list[tuple[list[str], Any]] = []
            if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                roles = refs(props.get("Roles") or props.get("RoleName"))
                documents.append((roles, props.get("PolicyDocument")))
            elif kind == "AWS::IAM::Role":
                documents += [([lid], p.get("PolicyDocument")) for p in props.get("Policies") or []]
            for roles, document in documents:
                sources = sorted({n for role in roles for n in principals.get(role, [])})
                for statement in _statements(document):
                    label = _write_label(statement.get("Action"))
                    if sources and label:
                        self._write(sources, self.targets(statement.get("Resource")), label, wired)
        for role in principals:  # managed policies attached by the role itself
            for arn in refs(self.props(role).get("ManagedPolicyArns")):
                if self.type(arn) == "AWS::IAM::ManagedPolicy":
                    for statement in _statements(self.props(arn).get("PolicyDocument")):
                        if label := _write_label(statement.get("Action")):
                            self._write(principals[role], self.targets(statement.get("Resource")), label, wired)

    def _write(self, sources: list[str], targets: list[str], label: str, wired: set[tuple[str, str]]) -> None:
        for source in sources:
            self.edge([source], [t for t in targets if (source, t) not in wired and t != source], label)

    def _plumbing_edges(self) -> None:
        for lid in sorted(self.resources):
            kind, props = self.type(lid), self.props(lid)
            own = self._own(lid)
            if kind == "AWS::Lambda::Function":
                self.edge(own, self.targets(props.get("Role")), "role")
                self.edge(own, self.targets((props.get("LoggingConfig") or {}).get("LogGroup")), "logs")
            elif kind == "AWS::CloudWatch::Alarm":
                self.edge(own, self.targets(props.get("AlarmActions")), "alarm")
            elif kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                self.edge(own, self.targets(props.get("ServiceToken")), "provider")

    def _own(self, lid: str) -> list[str]:
        node = self.node(lid)
        return [node] if node else []


def _node_id(logical_id: str) -> str:
    node_id = re.sub(r"[^A-Za-z0-9_]", "_", logical_id)
    return f"r_{node_id}" if node_id.lower() in {"end", "graph", "subgraph", "flowchart"} else node_id


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        return
    statements = document.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, dict) and statement.get("Effect", "Allow") == "Allow":
            yield statement


def _write_label(actions: Any) -> str:
    """The edge label for the data-moving actions among ``actions`` (IAM wildcards honoured)."""
    patterns = [actions] if isinstance(actions, str) else [a for a in actions or [] if isinstance(a, str)]
    labels = set()
    for service, (names, label) in _WRITES.items():
        for name in names:
            if any(fnmatch.fnmatchcase(f"{service}:{name}".lower(), p.lower()) for p in patterns if p != "*"):
                labels.add(label)
    return ", ".join(sorted(labels))


def _task_states(definition: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state of an ASL definition, in Parallel branches and Map iterators too."""
    if not isinstance(definition, dict):
        return
    for name, state in sorted((definition.get("States") or {}).items()):
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches") or []:
            yield from _task_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            yield from _task_states(state.get(key))


def from_template(template: Mapping[str, Any], *, plumbing: bool = False, direction: str = "LR") -> str:
    """The Mermaid flowchart of one CloudFormation template."""
    return _Reader(template, plumbing=plumbing, direction=direction).read().mermaid()


def load_template(source: str | os.PathLike[str], stack: str | None = None) -> dict[str, Any]:
    """A template from a JSON file, or from a cloud assembly folder and a stack (id or name).

    An assembly with one stack needs no ``stack``; otherwise a ValueError lists the stacks.
    """
    path = Path(source)
    if path.is_file():
        return dict(json.loads(path.read_text()))
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise ValueError(f"{source}: neither a template file nor a cloud assembly folder (no manifest.json)")
    manifest = json.loads(manifest_path.read_text())
    stacks: dict[str, str] = {}
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            stacks[artifact_id] = artifact_id
            name = (artifact.get("properties") or {}).get("stackName") or artifact.get("displayName")
            if name:
                stacks.setdefault(str(name), artifact_id)
    if stack is None:
        if len(set(stacks.values())) != 1:
            raise ValueError(f"{source} holds {len(set(stacks.values()))} stacks: name one of {sorted(stacks)}")
        stack = next(iter(stacks))
    if stack not in stacks:
        raise ValueError(f"no stack {stack!r} in {source}: it holds {sorted(stacks)}")
    artifact = manifest["artifacts"][stacks[stack]]
    properties = artifact.get("properties") or {}
    template = dict(json.loads((path / properties.get("templateFile", f"{stacks[stack]}.template.json")).read_text()))
    return with_paths(template, _construct_paths(path, artifact))


def _construct_paths(assembly: Path, artifact: Mapping[str, Any]) -> dict[str, str]:
    """logical id → construct path, from the assembly's metadata (there even without path metadata)."""
    metadata = dict(artifact.get("metadata") or {})
    if artifact.get("additionalMetadataFile"):
        metadata.update(json.loads((assembly / artifact["additionalMetadataFile"]).read_text()))
    paths = {}
    for construct_path, entries in metadata.items():
        for entry in entries:
            if entry.get("type") == "aws:cdk:logicalId" and isinstance(entry.get("data"), str):
                paths[entry["data"]] = construct_path.lstrip("/")
    return paths


def with_paths(template: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, Any]:
    """``template`` with ``aws:cdk:path`` metadata added where it lacks one (labels come from it)."""
    result = json.loads(json.dumps(template))
    for logical_id, resource in (result.get("Resources") or {}).items():
        if logical_id in paths and "aws:cdk:path" not in (resource.get("Metadata") or {}):
            resource.setdefault("Metadata", {})["aws:cdk:path"] = paths[logical_id]
    return dict(result)
