"""AggregatorDemo: a customer view aggregated from three downstream functions (profile, orders,
recommendations), answered in parallel and cached for a minute."""

from __future__ import annotations

import uuid

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from demo._drive import DriveContext, DriveResult
from patterns import core
from patterns.aggregator import Aggregator

#: part → how long the demo downstream takes to answer (ms)
DELAYS_MS = {"profile": 100, "orders": 200, "recommendations": 300}
CALL_TIMEOUT = Duration.millis(1500)
BUDGET = Duration.seconds(2)
CACHE_TTL = Duration.minutes(1)
#: How long a part asked to be slow takes: past the call timeout and the budget.
SLOW_MS = 2500


def build(scope: Construct, stack_id: str) -> Stack:
    stack = Stack(
        scope, stack_id,
        description="CATALOG 15 Aggregator: REST API -> aggregator (parallel calls, budget, DynamoDB cache)",
    )
    downstreams = {
        part: core.python_function(
            stack, f"{part.capitalize()}Service",
            code=core.handler_code("aggregator"),
            handler="downstream.handler",
            service=f"{part}-service",
            invocation="sync",
            description=f"Demo downstream: the {part} part, answered after {delay} ms",
            options=core.FunctionOptions(timeout=Duration.seconds(10)),
            environment={"PART": part, "DELAY_MS": str(delay), "SLOW_MS": str(SLOW_MS)},
        )
        for part, delay in DELAYS_MS.items()
    }
    aggregator = Aggregator(
        stack, "Aggregator",
        downstreams=downstreams,
        call_timeout=CALL_TIMEOUT,
        budget=BUDGET,
        cache_ttl=CACHE_TTL,
        table_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    CfnOutput(stack, "AggregateUrl", value=aggregator.url)
    CfnOutput(stack, "RestApiId", value=aggregator.api.rest_api_id)
    CfnOutput(stack, "CacheTableName", value=aggregator.table.table_name)
    return stack


def drive(ctx: DriveContext) -> DriveResult:
    """One customer view (three parts), the same request again (from the cache), and one with the
    orders service failing (a partial answer naming it)."""
    url = ctx.outputs["AggregateUrl"].rstrip("/")
    key = f"customer-{uuid.uuid4().hex[:8]}"
    first = ctx.http("GET", f"{url}/{key}")
    again = ctx.http("GET", f"{url}/{key}")
    failing = ctx.http("GET", f"{url}/{key}-fail-orders")
    body, cached, partial = (r.body if isinstance(r.body, dict) else {} for r in (first, again, failing))
    ok = (
        first.status == 200 and set(body.get("parts", {})) == set(DELAYS_MS) and body.get("cache") == "miss"
        and again.status == 200 and cached.get("cache") == "hit" and cached.get("parts") == body.get("parts")
        and failing.status == 200 and partial.get("partial") is True and set(partial.get("missing", {})) == {"orders"}
    )
    outcome = (
        f"{first.status} {len(body.get('parts', {}))} parts in {body.get('total_ms')} ms "
        f"(slowest part {max(body.get('latency_ms', {0: 0}).values())} ms), again: cache {cached.get('cache')}, "
        f"orders down: {failing.status} partial, missing {sorted(partial.get('missing', {}))}"
    )
    return DriveResult(sent=f"GET /aggregate/{key} twice, then with orders failing", outcome=outcome, ok=ok)
