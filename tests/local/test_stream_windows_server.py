"""Tumbling windows in a server that is not draining: the wait for a window's end is capped.

Its own module: one local cloud runs in a process at a time, and this one polls in the background.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from patterns.local import LocalCloud, Settings

from .conftest import python_function, synth, write_handler
from .test_stream_windows import WINDOW_HANDLER, WINDOW_SECONDS, _finals, _put


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("windows-server")
    code = write_handler(root / "window", {"app.py": WINDOW_HANDLER})

    def build(app: Any) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_kinesis as kinesis
        from aws_cdk import aws_lambda as lambda_
        from aws_cdk import aws_lambda_event_sources as sources

        stack = cdk.Stack(app, "ServerWindowStack")
        stream = kinesis.Stream(stack, "ClockStream", shard_count=1)
        cdk.CfnOutput(stack, "ClockStreamName", value=stream.stream_name)
        python_function(stack, "Clock", code).add_event_source(
            sources.KinesisEventSource(
                stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=3,
                tumbling_window=cdk.Duration.seconds(WINDOW_SECONDS),
            )
        )

    return synth(root / "cdk.out", build)


def test_a_server_that_is_not_draining_closes_a_window_after_time_cap(assembly: Path) -> None:
    # GIVEN a background-polling cloud (a developer's server) with a 0.2 s cap on waits
    with LocalCloud(front_door=False, background=True, settings=Settings(time_cap=0.2)) as cloud:
        outputs = cloud.deploy(assembly, "ServerWindowStack").outputs
        # WHEN 2 records are put to a 300 s window
        began = time.monotonic()
        _put(cloud, outputs["ClockStreamName"], [{"n": n, "value": 7} for n in range(2)])
        while not _finals(cloud, "Clock") and time.monotonic() - began < 15:
            time.sleep(0.05)
        # THEN the window closed within seconds of real time, with both records counted
        assert [(f["total"], f["count"]) for f in _finals(cloud, "Clock")] == [(14, 2)]
        assert time.monotonic() - began < 15
