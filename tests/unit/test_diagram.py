"""``python -m patterns diagram``: a template in, the data-flow edges out, one test per kind of edge.

The templates are small and hand-written in the shapes CDK synthesizes (Fn::GetAtt, Fn::Join, Fn::Sub);
the last tests draw a plain aws-cdk-lib stack the tool has never seen and go through the CLI.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from patterns import diagram
from patterns.__main__ import main

NODE = re.compile(r'^  (\w+)\W+"(.*?)"\W*$')
EDGE = re.compile(r'^  (\w+) (-->|-\.->)(?:\|"(.*)"\|)? (\w+)$')


def drawn(template: dict[str, Any], **options: Any) -> tuple[dict[str, str], set[tuple[str, str, str, str]]]:
    """The nodes (id → label) and edges (source name, arrow, label, target name) of a template's diagram."""
    text = diagram.from_template(template, **options)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes, edges = {}, set()
    for line in lines[1:]:
        if match := EDGE.match(line):
            edges.add((match.group(1), match.group(2), match.group(3) or "", match.group(4)))
        elif match := NODE.match(line):
            nodes[match.group(1)] = match.group(2)
        else:
            raise AssertionError(f"not a node or an edge: {line!r}")
    for source, _, _, target in edges:
        assert source in nodes and target in nodes, (source, target)
    name = {node_id: label.split("<br/>")[0] for node_id, label in nodes.items()}
    return nodes, {(name[s], arrow, label, name[t]) for s, arrow, label, t in edges}


def res(kind: str, path: str | None = None, **props: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"Type": kind, "Properties": props}
    if path:
        resource["Metadata"] = {"aws:cdk:path": f"Demo/{path}"}
    return resource


def arn(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


FN = res("AWS::Lambda::Function", Role=arn("FnRole"))
ROLE = res("AWS::IAM::Role")
QUEUE = res("AWS::SQS::Queue")
TABLE = res("AWS::DynamoDB::Table")


def test_nodes_are_labelled_by_construct_path_and_kind() -> None:
    nodes, _ = drawn(template(
        OrdersQueueA1B2C3D4=res("AWS::SQS::Queue", "Orders/Queue/Resource", FifoQueue=True),
        OrdersTable99=res("AWS::DynamoDB::Table", "Orders/Table/Resource"),
        Bare=res("AWS::SNS::Topic"),
    ))
    assert nodes == {
        "OrdersQueueA1B2C3D4": "Orders/Queue<br/>SQS FIFO queue",
        "OrdersTable99": "Orders/Table<br/>DynamoDB table",
        "Bare": "Bare<br/>SNS topic",
    }


def test_an_unknown_resource_type_is_a_plain_node() -> None:
    text = diagram.from_template(template(Thing=res("Vendor::Made::Up", "Thing/Resource"), Q=QUEUE))
    assert '  Thing["Thing<br/>Vendor::Made::Up"]' in text.splitlines()


def test_plumbing_is_left_out_unless_asked_for() -> None:
    resources = template(
        Fn=FN, FnRole=ROLE, Logs=res("AWS::Logs::LogGroup"),
        Alarm=res("AWS::CloudWatch::Alarm", AlarmActions=[ref("T")]),
        T=res("AWS::SNS::Topic"), Perm=res("AWS::Lambda::Permission", FunctionName=arn("Fn")),
        Notifier=res("AWS::Lambda::Function", "BucketNotificationsHandler050a0587/Resource"),
    )
    resources["Resources"]["Fn"]["Properties"]["LoggingConfig"] = {"LogGroup": ref("Logs")}
    nodes, edges = drawn(resources)
    assert set(nodes) == {"Fn", "T"} and edges == set()
    nodes, edges = drawn(resources, plumbing=True)
    assert {"FnRole", "Logs", "Alarm", "Perm", "Notifier"} <= set(nodes)
    assert {("Fn", "-->", "role", "FnRole"), ("Fn", "-->", "logs", "Logs"), ("Alarm", "-->", "alarm", "T")} <= edges


def test_output_is_stable_whatever_the_resource_order() -> None:
    resources = {
        "Fn": FN, "FnRole": ROLE, "Q": QUEUE, "Dlq": QUEUE, "T": res("AWS::SNS::Topic"),
        "Sub": res("AWS::SNS::Subscription", TopicArn=ref("T"), Endpoint=arn("Q"), Protocol="sqs"),
        "Esm": res("AWS::Lambda::EventSourceMapping", EventSourceArn=arn("Q"), FunctionName=ref("Fn"), BatchSize=5),
    }
    first = diagram.from_template({"Resources": resources})
    items = list(resources.items())
    random.Random(7).shuffle(items)
    assert diagram.from_template({"Resources": dict(items)}) == first


def test_rest_api_routes_to_lambda_aws_service_and_http_integrations() -> None:
    uri = {"Fn::Join": ["", ["arn:", ref("AWS::Partition"), ":apigateway:", ref("AWS::Region"),
                             ":lambda:path/2015-03-31/functions/", arn("Fn"), "/invocations"]]}
    sqs_uri = {"Fn::Join": ["", ["arn:aws:apigateway:", ref("AWS::Region"), ":sqs:path/", ref("AWS::AccountId"),
                                 "/", arn("Q", "QueueName")]]}
    _, edges = drawn(template(
        Fn=FN, FnRole=ROLE, Q=QUEUE, Api=res("AWS::ApiGateway::RestApi"),
        Items=res("AWS::ApiGateway::Resource", ParentId=arn("Api", "RootResourceId"), PathPart="items",
                  RestApiId=ref("Api")),
        Item=res("AWS::ApiGateway::Resource", ParentId=ref("Items"), PathPart="{id}", RestApiId=ref("Api")),
        GetItem=res("AWS::ApiGateway::Method", HttpMethod="GET", ResourceId=ref("Item"), RestApiId=ref("Api"),
                    Integration={"Type": "AWS_PROXY", "Uri": uri}),
        PostItems=res("AWS::ApiGateway::Method", HttpMethod="POST", ResourceId=ref("Items"), RestApiId=ref("Api"),
                      Integration={"Type": "AWS", "Uri": sqs_uri, "Credentials": arn("FnRole")}),
        Root=res("AWS::ApiGateway::Method", HttpMethod="GET", ResourceId=arn("Api", "RootResourceId"),
                 RestApiId=ref("Api"), Integration={"Type": "HTTP_PROXY", "Uri": "https://example.com/"}),
        Cors=res("AWS::ApiGateway::Method", HttpMethod="OPTIONS", ResourceId=ref("Items"), RestApiId=ref("Api"),
                 Integration={"Type": "MOCK"}),
        Stage=res("AWS::ApiGateway::Stage", RestApiId=ref("Api")),
    ))
    assert edges == {
        ("Api", "-->", "GET /items/{id}", "Fn"),
        ("Api", "-->", "POST /items", "Q"),
        ("Api", "-->", "GET /", "https://example.com/"),
    }


def test_http_api_routes_to_lambda_and_sqs_integrations() -> None:
    _, edges = drawn(template(
        Fn=FN, FnRole=ROLE, Q=QUEUE, Api=res("AWS::ApiGatewayV2::Api", ProtocolType="HTTP"),
        ToFn=res("AWS::ApiGatewayV2::Integration", ApiId=ref("Api"), IntegrationType="AWS_PROXY",
                 IntegrationUri=arn("Fn")),
        ToQueue=res("AWS::ApiGatewayV2::Integration", ApiId=ref("Api"), IntegrationType="AWS_PROXY",
                    IntegrationSubtype="SQS-SendMessage",
                    RequestParameters={"QueueUrl": ref("Q"), "MessageBody": "$request.body"}),
        Get=res("AWS::ApiGatewayV2::Route", ApiId=ref("Api"), RouteKey="GET /items",
                Target={"Fn::Join": ["", ["integrations/", ref("ToFn")]]}),
        Post=res("AWS::ApiGatewayV2::Route", ApiId=ref("Api"), RouteKey="POST /items",
                 Target={"Fn::Join": ["", ["integrations/", ref("ToQueue")]]}),
    ))
    assert edges == {("Api", "-->", "GET /items", "Fn"), ("Api", "-->", "POST /items", "Q")}


def test_event_source_mappings_carry_batch_size_concurrency_and_on_failure() -> None:
    _, edges = drawn(template(
        Fn=FN, FnRole=ROLE, Q=QUEUE, Failed=QUEUE,
        Stream=res("AWS::Kinesis::Stream"), Table=res("AWS::DynamoDB::Table"),
        FromQueue=res("AWS::Lambda::EventSourceMapping", EventSourceArn=arn("Q"), FunctionName=ref("Fn"), BatchSize=5,
                      MaximumBatchingWindowInSeconds=2, ScalingConfig={"MaximumConcurrency": 3},
                      FunctionResponseTypes=["ReportBatchItemFailures"]),
        FromStream=res("AWS::Lambda::EventSourceMapping", EventSourceArn=arn("Stream"), FunctionName=ref("Fn"),
                       BatchSize=100, BisectBatchOnFunctionError=True, ParallelizationFactor=2,
                       DestinationConfig={"OnFailure": {"Destination": arn("Failed")}}),
        FromTable=res("AWS::Lambda::EventSourceMapping", EventSourceArn=arn("Table", "StreamArn"),
                      FunctionName=ref("Fn"), BatchSize=1, FilterCriteria={"Filters": [{"Pattern": "{}"}]}),
    ))
    assert edges == {
        ("Q", "-->", "batch 5, window 2 s, max concurrency 3, partial batch", "Fn"),
        ("Stream", "-->", "batch 100, parallelization 2, bisect", "Fn"),
        ("Table", "-->", "batch 1, filtered", "Fn"),
        ("Fn", "-.->", "on failure", "Failed"),
    }


def test_sns_subscriptions_show_their_filter_and_dlq() -> None:
    _, edges = drawn(template(
        T=res("AWS::SNS::Topic", Subscription=[{"Endpoint": "ops@example.com", "Protocol": "email"}]),
        Q=QUEUE, Dlq=QUEUE, Fn=FN, FnRole=ROLE,
        ToQueue=res("AWS::SNS::Subscription", TopicArn=ref("T"), Endpoint=arn("Q"), Protocol="sqs",
                    RawMessageDelivery=True, FilterPolicy={"status": ["ready"]},
                    RedrivePolicy={"deadLetterTargetArn": arn("Dlq")}),
        ToFn=res("AWS::SNS::Subscription", TopicArn=ref("T"), Endpoint=arn("Fn"), Protocol="lambda",
                 FilterPolicyScope="MessageBody", FilterPolicy={"store": [{"anything-but": ["test"]}]}),
    ))
    assert edges == {
        ("T", "-->", 'filter {#quot;status#quot;:[#quot;ready#quot;]} raw', "Q"),
        ("T", "-.->", "subscription DLQ", "Dlq"),
        ("T", "-->", "body filter {#quot;store#quot;:[{#quot;anything-but#quot;:[#quot;test#quot;]}]}", "Fn"),
        ("T", "-->", "", "ops@example.com"),
    }


def test_s3_notifications_from_the_cdk_custom_resource_and_the_bucket_itself() -> None:
    _, edges = drawn(template(
        Uploads=res("AWS::S3::Bucket"), Q=QUEUE, T=res("AWS::SNS::Topic"), Fn=FN, FnRole=ROLE,
        Native=res("AWS::S3::Bucket", NotificationConfiguration={
            "LambdaConfigurations": [{"Event": "s3:ObjectRemoved:*", "Function": arn("Fn")}],
            "EventBridgeConfiguration": {"EventBridgeEnabled": True},
        }),
        Notifications=res("Custom::S3BucketNotifications", ServiceToken=arn("Handler"), BucketName=ref("Uploads"),
                          NotificationConfiguration={
                              "QueueConfigurations": [{"Events": ["s3:ObjectCreated:*"], "QueueArn": arn("Q"),
                                                       "Filter": {"Key": {"FilterRules": [
                                                           {"Name": "prefix", "Value": "in/"}]}}}],
                              "TopicConfigurations": [{"Events": ["s3:ObjectCreated:Put"], "TopicArn": ref("T")}],
                          }),
        Handler=res("AWS::Lambda::Function", Role=arn("FnRole")),
    ))
    assert edges == {
        ("Uploads", "-->", "s3:ObjectCreated:* prefix=in/", "Q"),
        ("Uploads", "-->", "s3:ObjectCreated:Put", "T"),
        ("Native", "-->", "s3:ObjectRemoved:*", "Fn"),
        ("Native", "-->", "S3 events", "default event bus"),
    }


def test_eventbridge_rules_schedules_and_their_targets() -> None:
    nodes, edges = drawn(template(
        Bus=res("AWS::Events::EventBus", Name="orders"), Fn=FN, FnRole=ROLE, Dlq=QUEUE,
        Sm=res("AWS::StepFunctions::StateMachine"),
        OnOrder=res("AWS::Events::Rule", EventBusName=ref("Bus"), EventPattern={"source": ["shop"]},
                    Targets=[{"Arn": arn("Fn"), "Id": "Handler", "DeadLetterConfig": {"Arn": arn("Dlq")}}]),
        OnDefault=res("AWS::Events::Rule", EventPattern={"detail-type": ["Object Created"]},
                      Targets=[{"Arn": ref("Sm"), "Id": "Flow"}]),
        Nightly=res("AWS::Events::Rule", ScheduleExpression="rate(1 day)", Targets=[{"Arn": arn("Fn"), "Id": "T0"}]),
        Hourly=res("AWS::Scheduler::Schedule", ScheduleExpression="rate(1 hour)",
                   Target={"Arn": arn("Fn"), "RoleArn": arn("FnRole"), "DeadLetterConfig": {"Arn": arn("Dlq")}}),
    ))
    assert nodes["Nightly"].endswith("<br/>rate(1 day)") and nodes["Hourly"].endswith("<br/>rate(1 hour)")
    assert edges == {
        ("Bus", "-->", "{#quot;source#quot;:[#quot;shop#quot;]}", "OnOrder"),
        ("OnOrder", "-->", "Handler", "Fn"),
        ("OnOrder", "-.->", "DLQ of Handler", "Dlq"),
        ("default event bus", "-->", "{#quot;detail-type#quot;:[#quot;Object Created#quot;]}", "OnDefault"),
        ("OnDefault", "-->", "Flow", "Sm"),
        ("Nightly", "-->", "T0", "Fn"),
        ("Hourly", "-->", "", "Fn"),
        ("Hourly", "-.->", "DLQ", "Dlq"),
    }


def test_pipes_source_enrichment_and_target() -> None:
    _, edges = drawn(template(
        Q=QUEUE, Fn=FN, FnRole=ROLE, Sm=res("AWS::StepFunctions::StateMachine"),
        Pipe=res("AWS::Pipes::Pipe", Source=arn("Q"), Enrichment=arn("Fn"), Target=ref("Sm"), RoleArn=arn("FnRole"),
                 SourceParameters={"SqsQueueParameters": {"BatchSize": 4}, "FilterCriteria": {"Filters": []}}),
    ))
    assert edges == {
        ("Q", "-->", "batch 4, filtered", "Pipe"),
        ("Pipe", "-->", "enrichment", "Fn"),
        ("Pipe", "-->", "target", "Sm"),
    }


def _definition_join() -> dict[str, Any]:
    """A definition the way CDK emits it: JSON pieces joined around the references."""
    return {"Fn::Join": ["", [
        '{"StartAt":"Fan","States":{"Fan":{"Type":"Parallel","Branches":[{"StartAt":"Check","States":{"Check":'
        '{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"',
        arn("Fn"), '","Payload.$":"$"},"End":true}}}],"Next":"Each"},"Each":{"Type":"Map","ItemProcessor":'
        '{"StartAt":"Save","States":{"Save":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem",'
        '"Parameters":{"TableName":"', ref("Table"), '"},"End":true}}},"Next":"Tell"},"Tell":{"Type":"Task",'
        '"Resource":"arn:', ref("AWS::Partition"), ':states:::sns:publish","Parameters":{"TopicArn":"', ref("T"),
        '"},"Next":"Direct"},"Direct":{"Type":"Task","Resource":"', arn("Fn"), '","End":true}}}',
    ]]}


def test_step_functions_tasks_from_a_joined_definition_string() -> None:
    _, edges = drawn(template(
        Fn=FN, FnRole=ROLE, Table=TABLE, T=res("AWS::SNS::Topic"),
        Sm=res("AWS::StepFunctions::StateMachine", DefinitionString=_definition_join()),
    ))
    assert edges == {("Sm", "-->", "Check, Direct", "Fn"), ("Sm", "-->", "Save", "Table"), ("Sm", "-->", "Tell", "T")}


def test_step_functions_tasks_from_sub_and_substitutions() -> None:
    sub = {"Fn::Sub": ['{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${Fn.Arn}","Next":"B"},'
                       '"B":{"Type":"Task","Resource":"arn:${AWS::Partition}:states:::sqs:sendMessage",'
                       '"Parameters":{"QueueUrl":"${Url}"},"End":true}}}', {"Url": ref("Q")}]}
    substituted = '{"StartAt":"C","States":{"C":{"Type":"Task","Resource":"${Target}","End":true}}}'
    _, edges = drawn(template(
        Fn=FN, FnRole=ROLE, Q=QUEUE, Other=res("AWS::StepFunctions::StateMachine"),
        Sm=res("AWS::StepFunctions::StateMachine", DefinitionString=sub),
        Outer=res("AWS::StepFunctions::StateMachine", DefinitionString=substituted,
                  DefinitionSubstitutions={"Target": ref("Other")}),
    ))
    assert edges == {("Sm", "-->", "A", "Fn"), ("Sm", "-->", "B", "Q"), ("Outer", "-->", "C", "Other")}


def test_dead_letter_queues_and_async_destinations() -> None:
    fn = res("AWS::Lambda::Function", Role=arn("FnRole"), DeadLetterConfig={"TargetArn": arn("FnDlq")})
    _, edges = drawn(template(
        Fn=fn, FnRole=ROLE, FnDlq=QUEUE, Ok=QUEUE, Failed=res("AWS::SNS::Topic"), Dlq=QUEUE,
        Q=res("AWS::SQS::Queue", RedrivePolicy={"deadLetterTargetArn": arn("Dlq"), "maxReceiveCount": 3}),
        Async=res("AWS::Lambda::EventInvokeConfig", FunctionName=ref("Fn"), Qualifier="$LATEST", DestinationConfig={
            "OnSuccess": {"Destination": arn("Ok")}, "OnFailure": {"Destination": ref("Failed")}}),
    ))
    assert edges == {
        ("Q", "-.->", "DLQ after 3 receives", "Dlq"),
        ("Fn", "-.->", "DLQ (async)", "FnDlq"),
        ("Fn", "-->", "on success", "Ok"),
        ("Fn", "-.->", "on failure", "Failed"),
    }


WRITES = [
    ("AWS::DynamoDB::Table", ["dynamodb:BatchWriteItem", "dynamodb:PutItem"], "writes"),
    ("AWS::SQS::Queue", ["sqs:SendMessage", "sqs:GetQueueUrl"], "sends"),
    ("AWS::SNS::Topic", "sns:Publish", "publishes"),
    ("AWS::Events::EventBus", "events:PutEvents", "puts events"),
    ("AWS::S3::Bucket", ["s3:PutObject*", "s3:Abort*"], "puts objects"),
    ("AWS::Kinesis::Stream", ["kinesis:ListShards", "kinesis:PutRecords"], "puts records"),
    ("AWS::KinesisFirehose::DeliveryStream", ["firehose:PutRecord", "firehose:PutRecordBatch"], "puts records"),
    ("AWS::StepFunctions::StateMachine", "states:StartExecution", "starts"),
    ("AWS::Lambda::Function", "lambda:InvokeFunction", "invokes"),
]


def test_a_functions_policy_draws_its_writes() -> None:
    """One target per write kind; reads, ``*`` resources and other principals' policies draw nothing."""
    resources: dict[str, Any] = {"Fn": FN, "FnRole": ROLE, "Other": ROLE, "Read": TABLE}
    statements = []
    for index, (kind, actions, _) in enumerate(WRITES):
        resources[f"Target{index}"] = res(kind)
        target = arn(f"Target{index}")
        if kind == "AWS::S3::Bucket":
            target = {"Fn::Join": ["", [target, "/*"]]}
        statements.append({"Effect": "Allow", "Action": actions, "Resource": [target]})
    statements += [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": arn("Read")},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:*", "Resource": arn("Read")},
    ]
    resources["Policy"] = res("AWS::IAM::Policy", Roles=[ref("FnRole")], PolicyDocument={"Statement": statements})
    resources["OtherPolicy"] = res("AWS::IAM::Policy", Roles=[ref("Other")], PolicyDocument={
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": arn("Read")}]})
    _, edges = drawn({"Resources": resources})
    assert edges == {("Fn", "-->", label, f"Target{i}") for i, (_, _, label) in enumerate(WRITES)}


def test_writes_from_inline_and_managed_policies_with_wildcards_and_the_default_bus() -> None:
    bus = {"Fn::Join": ["", ["arn:", ref("AWS::Partition"), ":events:", ref("AWS::Region"), ":",
                             ref("AWS::AccountId"), ":event-bus/default"]]}
    inline = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": arn("Table")}]}
    role = res("AWS::IAM::Role", ManagedPolicyArns=[ref("Managed")],
               Policies=[{"PolicyName": "inline", "PolicyDocument": inline}])
    _, edges = drawn(template(
        Fn=FN, FnRole=role, Table=TABLE, Q=QUEUE,
        Managed=res("AWS::IAM::ManagedPolicy", PolicyDocument={"Statement": [
            {"Effect": "Allow", "Action": "sqs:Send*", "Resource": arn("Q")},
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}]}),
    ))
    assert edges == {("Fn", "-->", "writes", "Table"), ("Fn", "-->", "sends", "Q"),
                     ("Fn", "-->", "puts events", "default event bus")}


def test_cloudfront_origins_by_behaviour() -> None:
    api_url = {"Fn::Join": ["", ["https://", ref("Api"), ".execute-api."]]}
    api_domain = {"Fn::Select": [2, {"Fn::Split": ["/", api_url]}]}
    _, edges = drawn(template(
        Site=res("AWS::S3::Bucket"), Api=res("AWS::ApiGateway::RestApi"),
        Oac=res("AWS::CloudFront::OriginAccessControl"),
        Cdn=res("AWS::CloudFront::Distribution", DistributionConfig={
            "DefaultCacheBehavior": {"TargetOriginId": "site"},
            "CacheBehaviors": [{"PathPattern": "/api/*", "TargetOriginId": "api"}],
            "Origins": [{"Id": "site", "DomainName": arn("Site", "RegionalDomainName")},
                        {"Id": "api", "DomainName": api_domain},
                        {"Id": "legacy", "DomainName": "legacy.example.com"}],
        }),
    ))
    assert edges == {("Cdn", "-->", "default", "Site"), ("Cdn", "-->", "/api/*", "Api"),
                     ("Cdn", "-->", "legacy", "legacy.example.com")}


def test_appsync_resolvers_reach_their_data_sources() -> None:
    _, edges = drawn(template(
        Api=res("AWS::AppSync::GraphQLApi", Name="shop"), Fn=FN, FnRole=ROLE, Table=TABLE,
        Bus=res("AWS::Events::EventBus"),
        FnSource=res("AWS::AppSync::DataSource", ApiId=arn("Api", "ApiId"), Name="fn", Type="AWS_LAMBDA",
                     LambdaConfig={"LambdaFunctionArn": arn("Fn")}),
        TableSource=res("AWS::AppSync::DataSource", ApiId=arn("Api", "ApiId"), Name="table", Type="AMAZON_DYNAMODB",
                        DynamoDBConfig={"TableName": ref("Table"), "AwsRegion": ref("AWS::Region")}),
        BusSource=res("AWS::AppSync::DataSource", ApiId=arn("Api", "ApiId"), Name="bus", Type="AMAZON_EVENTBRIDGE",
                      EventBridgeConfig={"EventBusArn": arn("Bus")}),
        Get=res("AWS::AppSync::Resolver", ApiId=arn("Api", "ApiId"), TypeName="Query", FieldName="order",
                DataSourceName=arn("TableSource", "Name")),
        Step=res("AWS::AppSync::FunctionConfiguration", ApiId=arn("Api", "ApiId"),
                 DataSourceName=arn("FnSource", "Name")),
        Place=res("AWS::AppSync::Resolver", ApiId=arn("Api", "ApiId"), TypeName="Mutation", FieldName="place",
                  Kind="PIPELINE", PipelineConfig={"Functions": [arn("Step", "FunctionId")]}),
    ))
    assert edges == {("Api", "-->", "Query.order", "Table"), ("Api", "-->", "Mutation.place", "Fn"),
                     ("Api", "-->", "data source bus", "Bus")}


def test_a_plain_aws_cdk_lib_stack_it_has_never_seen(tmp_path: Path) -> None:
    """SNS → SQS → Lambda → DynamoDB and an HTTP API, written the way aws-cdk-lib's docs write them."""
    from aws_cdk import (
        App,
        Stack,
        aws_apigatewayv2,
        aws_apigatewayv2_integrations,
        aws_dynamodb,
        aws_lambda,
        aws_sns,
        aws_sns_subscriptions,
        aws_sqs,
    )
    from aws_cdk import aws_lambda_event_sources as sources

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Plain")
    table = aws_dynamodb.TableV2(stack, "Orders", partition_key=aws_dynamodb.Attribute(
        name="id", type=aws_dynamodb.AttributeType.STRING))
    dlq = aws_sqs.Queue(stack, "Dlq")
    queue = aws_sqs.Queue(stack, "Work", dead_letter_queue=aws_sqs.DeadLetterQueue(max_receive_count=2, queue=dlq))
    topic = aws_sns.Topic(stack, "Events")
    topic.add_subscription(aws_sns_subscriptions.SqsSubscription(queue, filter_policy={
        "kind": aws_sns.SubscriptionFilter.string_filter(allowlist=["order"])}))
    worker = aws_lambda.Function(stack, "Worker", runtime=aws_lambda.Runtime.PYTHON_3_13, handler="index.handler",
                                 code=aws_lambda.Code.from_inline("def handler(e, c): pass"))
    worker.add_event_source(sources.SqsEventSource(queue, batch_size=7, max_concurrency=4))
    table.grant_write_data(worker)
    api = aws_apigatewayv2.HttpApi(stack, "Api")
    api.add_routes(path="/events", methods=[aws_apigatewayv2.HttpMethod.POST],
                   integration=aws_apigatewayv2_integrations.HttpLambdaIntegration("ToWorker", worker))
    app.synth()

    nodes, edges = drawn(diagram.load_template(tmp_path, "Plain"))
    assert sorted(n.split("<br/>")[0] for n in nodes.values()) == ["Api", "Dlq", "Events", "Orders", "Work", "Worker"]
    assert edges == {
        ("Events", "-->", "filter {#quot;kind#quot;:[#quot;order#quot;]}", "Work"),
        ("Work", "-.->", "DLQ after 2 receives", "Dlq"),
        ("Work", "-->", "batch 7, max concurrency 4", "Worker"),
        ("Worker", "-->", "writes", "Orders"),
        ("Api", "-->", "POST /events", "Worker"),
    }


def _assembly(folder: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    artifacts = {name: {"type": "aws:cloudformation:stack", "properties": {"templateFile": f"{name}.template.json"},
                        "metadata": {f"/{name}/Queue/Resource": [{"type": "aws:cdk:logicalId", "data": "QueueA1"}]}}
                 for name in stacks}
    (folder / "manifest.json").write_text(json.dumps({"version": "41.0.0", "artifacts": artifacts}))
    for name, body in stacks.items():
        (folder / f"{name}.template.json").write_text(json.dumps(body))
    return folder


def test_cli_draws_a_stack_of_an_assembly_and_names_the_stacks_when_one_is_needed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"Resources": {"QueueA1": {"Type": "AWS::SQS::Queue"}}}
    folder = _assembly(tmp_path, {"One": body, "Two": body})
    assert main(["diagram", str(folder), "One", "--markdown"]) == 0
    assert capsys.readouterr().out == '```mermaid\nflowchart LR\n  QueueA1(["Queue<br/>SQS queue"])\n```\n'
    assert main(["diagram", str(folder)]) == 2
    assert "holds 2 stacks: name one of ['One', 'Two']" in capsys.readouterr().err
    (tmp_path / "t.json").write_text(json.dumps(body))
    assert main(["diagram", str(tmp_path / "t.json"), "--direction", "TB"]) == 0
    assert capsys.readouterr().out == 'flowchart TB\n  QueueA1(["QueueA1<br/>SQS queue"])\n'


def test_fails_if_the_source_is_neither_a_template_nor_an_assembly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither a template file nor a cloud assembly"):
        diagram.load_template(tmp_path)
    with pytest.raises(ValueError, match="no stack 'Nope'"):
        diagram.load_template(_assembly(tmp_path, {"One": {"Resources": {}}}), "Nope")


def test_custom_domain_base_paths_point_at_their_apis_even_in_other_stacks() -> None:
    weak = {"Fn::GetStackOutput": {"StackName": "Orders", "Region": {"Ref": "AWS::Region"}, "OutputName": "ApiRef"}}
    _, edges = drawn(template(
        Domain=res("AWS::ApiGateway::DomainName", "Domain", DomainName="api.example.com"),
        Map=res("AWS::ApiGateway::BasePathMapping", "Map", BasePath="orders", DomainName=ref("Domain"), RestApiId=weak),
        Api=res("AWS::ApiGatewayV2::Api", "Api", Name="catalog", ProtocolType="HTTP"),
        V2Domain=res("AWS::ApiGatewayV2::DomainName", "V2Domain", DomainName="v2.example.com"),
        V2Map=res("AWS::ApiGatewayV2::ApiMapping", "V2Map", ApiMappingKey="catalog/v1", DomainName=ref("V2Domain"),
                  ApiId=ref("Api")),
    ))
    assert edges == {
        ("Domain", "-->", "/orders", "stack Orders"),
        ("V2Domain", "-->", "/catalog/v1", "Api"),
    }
