"""CATALOG 7 — MapReduce: a splitter cuts a document into chunks on an SQS queue, mapper functions
count each chunk into a partial-results table, and a reducer adds the partials up once every chunk
is done (the word count of a text document in S3).

Completion tracking (shared with FanOutFanIn through ``core.jobs``): the job row holds its chunk
count and a *set* of done chunk ids. A mapper records its partial and its chunk id in one
transaction, so a redelivered chunk overwrites the same partial and adds nothing to the set; the
mapper that completes the set moves the job ``mapping`` → ``reducing`` with a conditional update,
and the jobs table's stream, filtered to that transition, invokes the reducer. The state change is
the trigger: no "now reduce" message that a crash between two writes could lose.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=7,
    name="MapReduce",
    construct="MapReduce",
    module="patterns.map_reduce",
    demo_stack="MapReduceDemo",
    handlers=("map_reduce",),
    family="Messaging and integration",
    summary="splitter → chunk queue → mappers write partials per job+chunk → jobs-table stream → reducer",
)

#: Bounds of ``chunk_size``: a chunk's partial result (distinct words and counts) must fit a 400 KB item.
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 128 * 1024


class MapReduce(Construct):
    """Word count over a document in S3, split, mapped in parallel and reduced once.

    Start a job by invoking ``splitter`` with ``{"key": "<key in input_bucket>", "job_id": "<optional>"}``;
    it answers ``{"job_id", "status", "chunks"}``. The job row in ``jobs_table`` goes ``mapping`` →
    ``reducing`` → ``done``; the full counts are written to ``output_bucket`` at
    ``<result_prefix><job_id>.json`` and the job row gets totals and the top words.

    :param existing_input_bucket: where documents are read from. Default: a new private, encrypted,
        TLS-only, versioned, access-logged bucket; mutually exclusive with ``input_bucket_props``.
    :param input_bucket_props: overrides for the new input bucket. Default: none.
    :param existing_output_bucket: where results are written. Default: a new bucket like the input
        one; mutually exclusive with ``output_bucket_props``.
    :param output_bucket_props: overrides for the new output bucket. Default: none.
    :param existing_jobs_table: the jobs table: string partition key ``job_id`` and a stream with new
        images (import it with ``Table.from_table_attributes(table_stream_arn=...)``). Default: a new
        on-demand, encrypted table with point-in-time recovery and a ``NEW_IMAGE`` stream; mutually
        exclusive with ``jobs_table_props``.
    :param jobs_table_props: overrides for the new jobs table (not its key or stream). Default: none.
    :param existing_results_table: the partial-results table: partition key ``job_id``, sort key
        ``chunk`` (strings). Default: a new table like the jobs one without a stream; mutually
        exclusive with ``results_table_props``.
    :param results_table_props: overrides for the new partial-results table (not its keys). Default: none.
    :param chunk_size: target bytes per chunk, 1 KiB-128 KiB (a chunk ends at the next whitespace).
        Default: 32 KiB.
    :param max_chunks: most chunks a job may have (the splitter refuses larger documents), 1-10000.
        Default: 1000.
    :param result_prefix: key prefix of the results in the output bucket; must end with ``/``.
        Default: ``results/``.
    :param top_n: words kept in the job row's ``top_words``, 0-100. Default: 10.
    :param mapper_batch_size: chunk messages per mapper invocation, 1-10. Default: 10.
    :param mapper_max_concurrency: most mapper batches at once, 2-1000. Default: no limit.
    :param max_receive_count: deliveries of a chunk before it moves to the chunk DLQ. Default: 5.
    :param handler_code: the code asset of the three functions. Default: ``lambdas/map_reduce``.
    :param splitter_handler: Default: ``splitter.handler``.
    :param mapper_handler: must return a partial batch response. Default: ``mapper.handler``.
    :param reducer_handler: must return a partial batch response. Default: ``reducer.handler``.
    :param splitter_options: Default: 512 MB, 30 seconds (it reads the whole document once).
    :param mapper_options: Default: core defaults (256 MB, 10 seconds).
    :param reducer_options: Default: 512 MB, 60 seconds (it reads every partial of a job).
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_input_bucket: s3.IBucket | None = None,
        input_bucket_props: dict[str, Any] | None = None,
        existing_output_bucket: s3.IBucket | None = None,
        output_bucket_props: dict[str, Any] | None = None,
        existing_jobs_table: ddb.ITable | None = None,
        jobs_table_props: dict[str, Any] | None = None,
        existing_results_table: ddb.ITable | None = None,
        results_table_props: dict[str, Any] | None = None,
        chunk_size: int = 32 * 1024,
        max_chunks: int = 1000,
        result_prefix: str = "results/",
        top_n: int = 10,
        mapper_batch_size: int = 10,
        mapper_max_concurrency: int | None = None,
        max_receive_count: int = core.MAX_RECEIVE_COUNT,
        handler_code: lambda_.Code | None = None,
        splitter_handler: str = "splitter.handler",
        mapper_handler: str = "mapper.handler",
        reducer_handler: str = "reducer.handler",
        splitter_options: core.FunctionOptions | None = None,
        mapper_options: core.FunctionOptions | None = None,
        reducer_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        core.validation.in_range("chunk_size", chunk_size, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE,
                                 "bytes (a chunk's counts must fit one DynamoDB item)")
        core.validation.in_range("max_chunks", max_chunks, 1, 10000)
        core.validation.in_range("top_n", top_n, 0, 100)
        core.validation.in_range("mapper_batch_size", mapper_batch_size, 1, 10)
        if not result_prefix or not result_prefix.endswith("/") or result_prefix.startswith("/"):
            raise ValueError(
                "result_prefix must be a key prefix ending with '/' and not starting with one "
                f"(given {result_prefix!r})"
            )
        code = handler_code or core.handler_code("map_reduce")
        splitter_opts = splitter_options or core.FunctionOptions(memory_size=512, timeout=Duration.seconds(30))
        mapper_opts = mapper_options or core.FunctionOptions()
        reducer_opts = reducer_options or core.FunctionOptions(memory_size=512, timeout=Duration.seconds(60))

        # --- storage ------------------------------------------------------------------------------
        buckets = core.bucket_pair(
            self, existing_source=existing_input_bucket, source_props=input_bucket_props,
            existing_target=existing_output_bucket, target_props=output_bucket_props,
        )
        self.access_log_bucket: s3.IBucket | None = buckets.access_logs
        self.input_bucket: s3.IBucket = buckets.source
        self.output_bucket: s3.IBucket = buckets.target
        self.jobs_table: ddb.ITable = core.jobs_table(
            self, "JobsTable", stream=True, existing_table=existing_jobs_table, table_props=jobs_table_props
        )
        self.results_table: ddb.ITable = core.table(
            self, "ResultsTable", partition_key=core.JOB_KEY, sort_key="chunk",
            existing_table=existing_results_table, table_props=results_table_props,
            existing_table_name="existing_results_table", table_props_name="results_table_props",
        )
        pair = core.queue_with_dlq(
            self, "ChunkQueue", consumer_timeout=mapper_opts.timeout, max_receive_count=max_receive_count
        )
        assert pair.dead_letter_queue is not None
        self.chunk_queue: sqs.IQueue = pair.queue
        self.chunk_dead_letter_queue: sqs.IQueue = pair.dead_letter_queue
        self.reducer_dead_letter_queue: sqs.IQueue = core.dead_letter_queue(
            self, "ReducerDeadLetterQueue", purpose="the reducer's jobs-table stream (on-failure destination)"
        )

        # --- split --------------------------------------------------------------------------------
        self.splitter: lambda_.Function = core.python_function(
            self, "Splitter",
            code=code, handler=splitter_handler, service=f"{construct_id}-splitter", invocation="sync",
            options=splitter_opts, options_prop="splitter_options",
            description="Splits a document into chunk messages and records the job",
            environment={
                "INPUT_BUCKET": self.input_bucket.bucket_name,
                "JOBS_TABLE": self.jobs_table.table_name,
                "CHUNK_QUEUE_URL": self.chunk_queue.queue_url,
                "CHUNK_SIZE": str(chunk_size),
                "MAX_CHUNKS": str(max_chunks),
            },
        )
        core.grant_object_read(
            self.input_bucket, self.splitter, list_bucket=True,
            why="the splitter reads the document named in each request",
        )
        self.jobs_table.grant(self.splitter, "dynamodb:PutItem", "dynamodb:GetItem")
        self.chunk_queue.grant_send_messages(self.splitter)

        # --- map ----------------------------------------------------------------------------------
        self.mapper: lambda_.Function = core.python_function(
            self, "Mapper",
            code=code, handler=mapper_handler, service=f"{construct_id}-mapper", invocation="sqs",
            options=mapper_opts, options_prop="mapper_options",
            description="Counts the words of one chunk into the partial-results table",
            environment={
                "INPUT_BUCKET": self.input_bucket.bucket_name,
                "JOBS_TABLE": self.jobs_table.table_name,
                "RESULTS_TABLE": self.results_table.table_name,
            },
        )
        core.grant_object_read(
            self.input_bucket, self.mapper, why="a mapper reads the byte range of the document its chunk names",
        )
        self.results_table.grant(self.mapper, "dynamodb:PutItem")
        self.jobs_table.grant(self.mapper, "dynamodb:UpdateItem", "dynamodb:GetItem")
        self.mapper_event_source: sources.SqsEventSource = core.consume(
            self.mapper, self.chunk_queue, batch_size=mapper_batch_size, max_concurrency=mapper_max_concurrency
        )

        # --- reduce -------------------------------------------------------------------------------
        self.reducer: lambda_.Function = core.python_function(
            self, "Reducer",
            code=code, handler=reducer_handler, service=f"{construct_id}-reducer", invocation="stream",
            options=reducer_opts, options_prop="reducer_options",
            description="Adds up the partial results of a job whose chunks are all mapped",
            environment={
                "OUTPUT_BUCKET": self.output_bucket.bucket_name,
                "RESULT_PREFIX": result_prefix,
                "TOP_N": str(top_n),
                "JOBS_TABLE": self.jobs_table.table_name,
                "RESULTS_TABLE": self.results_table.table_name,
            },
        )
        self.results_table.grant(self.reducer, "dynamodb:Query")
        self.jobs_table.grant(self.reducer, "dynamodb:GetItem", "dynamodb:UpdateItem")
        core.grant_object_write(
            self.output_bucket, self.reducer, f"{result_prefix}*",
            why="the reducer writes one result object per job under the result prefix",
        )
        self.reducer_event_source: sources.DynamoEventSource = core.on_job_status(
            self.reducer, self.jobs_table, status="reducing", on_failure=self.reducer_dead_letter_queue, batch_size=1,
        )

        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options,
            functions={"Splitter": self.splitter, "Mapper": self.mapper, "Reducer": self.reducer},
            work_queues={"ChunkQueue": self.chunk_queue},
            dead_letter_queues={"ChunkDeadLetterQueue": self.chunk_dead_letter_queue,
                                "ReducerDeadLetterQueue": self.reducer_dead_letter_queue},
            iterator_functions={"Reducer": self.reducer},
        ).alarms

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to start jobs (invoke the splitter)."""
        return self.splitter.grant_invoke(grantee)

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put documents into the input bucket."""
        return self.input_bucket.grant_put(grantee)

    def grant_read_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read job status and the result objects."""
        self.jobs_table.grant_read_data(grantee)
        return self.output_bucket.grant_read(grantee)
