"""A bounded soak of a running server through its front door: memory stays within a fixed budget and
throughput does not decay (moto 5.2.5 kept every table copy of every transaction: +276 MB per 1,000
requests and a fourfold slowdown). ``python -m bench.soak`` is the long version."""

from __future__ import annotations

from bench.soak import soak
from patterns.local import LocalCloudServer

#: Requests of the soak, sized to stay well under 25 s on a loaded 2-core machine.
REQUESTS = 500
#: How much the server's RSS may grow over the soak, measured after draining.
RSS_BUDGET_MB = 200.0


def test_a_soak_holds_memory_and_throughput() -> None:
    # GIVEN a server with a web service that writes a DynamoDB transaction and queues a message per request
    with LocalCloudServer() as server:
        # WHEN 8 clients send the requests through the front door, and the queue is drained
        result = soak(server, REQUESTS, clients=8, warmup=80, max_seconds=60)
        errors = server.errors

    # THEN every request succeeded and every message was consumed
    print(result.summary())
    assert result.errors == [] and errors == []
    assert result.requests == REQUESTS
    # AND memory after draining stays within the budget, and the last tenth is as fast as the first
    assert result.rss_drained_mb - result.rss_start_mb <= RSS_BUDGET_MB, result.summary()
    assert result.tenths[-1] >= 0.7 * result.tenths[0], result.summary()
