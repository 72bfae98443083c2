"""Local cloud timings: ``make demo``'s deploy + drive phase, and an in-process deploy per stack.

Goal (issue 3): deploy + one event through every demo stack <= 60 s on this machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads

import argparse
import statistics
import sys
import time
from pathlib import Path

from demo.__main__ import OUT, deploy_and_drive, print_rows, synth

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local")
    parser.add_argument("--rounds", type=int, default=3, help="in-process deploys per stack")
    parser.add_argument(
        "--soak-requests", type=int, default=5000, help="requests of the server soak (bench.soak); 0: skip it"
    )
    args = parser.parse_args(argv)
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "NODE_NO_WARNINGS": "1",
           "CDK_DISABLE_VERSION_CHECK": "1"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), env["PATH"]])
    synth_seconds = synth(env)

    started = time.perf_counter()
    rows = deploy_and_drive(env)
    server_seconds = time.perf_counter() - started
    print_rows(rows)
    ok = sum(result.ok for _, result, _ in rows)

    from patterns import catalog
    from patterns.local import LocalCloud

    per_stack: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        with LocalCloud() as cloud:
            for entry in catalog.entries():
                began = time.perf_counter()
                cloud.deploy(OUT, entry.demo_stack)
                per_stack.setdefault(entry.demo_stack, []).append(time.perf_counter() - began)

    print(f"\ncdk synth (real CLI, all stacks): {synth_seconds:.1f} s")
    print(f"server: bootstrap + deploy --all + drive {len(rows)} patterns: {server_seconds:.1f} s "
          f"({ok}/{len(rows)} ok; goal <= 60 s)")
    print(f"in-process deploy per stack, {args.rounds} rounds (median / min):")
    for stack, times in per_stack.items():
        print(f"  {stack:<32} {statistics.median(times):6.2f} s  {min(times):6.2f} s")
    total = sum(statistics.median(t) for t in per_stack.values())
    print(f"  {'all stacks':<32} {total:6.2f} s")
    soaked = soak_section(args.soak_requests)
    return 0 if ok == len(rows) and soaked else 1


def soak_section(requests: int) -> bool:
    """The long soak of a server through its front door (bench.soak): req/s, p50/p99, RSS per 1,000."""
    if requests <= 0:
        return True
    from bench.soak import soak
    from patterns.local import LocalCloudServer

    with LocalCloudServer() as server:
        result = soak(server, requests, clients=8, max_seconds=900)
    print(f"\nserver soak through the front door: {result.summary()}")
    print("  throughput per tenth (req/s): " + " ".join(f"{t:.0f}" for t in result.tenths))
    return not result.errors


if __name__ == "__main__":
    raise SystemExit(main())
