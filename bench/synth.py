"""Synth time of the full demo app against a trivial one-stack app, measured side by side.

Both run through the real CDK CLI with the same interpreter and cdk.json feature flags, alternating
in each round so machine noise hits both alike. Two comparisons:

- as shipped: ``cdk synth`` of app.py (cdk-nag plugins on, aws-cdk-lib's built-in schema validation
  off because cfn-lint checks every template in the test suite) against a trivial app with
  aws-cdk-lib's defaults (built-in validation on) — what a user waits for either way;
- like for like: both with ``CDK_VALIDATION=false``, which isolates what this library's constructs,
  handler assets and cdk-nag cost over a bare aws-cdk-lib app.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDK = str(ROOT / "node_modules" / ".bin" / "cdk")

TRIVIAL_APP = """
from aws_cdk import App, Stack, aws_sqs as sqs
app = App()
stack = Stack(app, "Trivial")
sqs.Queue(stack, "Queue", enforce_ssl=True)
app.synth()
"""


def _env() -> dict[str, str]:
    env = {**os.environ, "NODE_NO_WARNINGS": "1", "CDK_DISABLE_VERSION_CHECK": "1"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), env["PATH"]])
    env.pop("CDK_VALIDATION", None)
    return env


def time_synth(app_dir: Path, out: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [CDK, "synth", "--quiet", "--output", str(out)], cwd=app_dir, env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def compare(trivial: Path, out: Path, env: dict[str, str], rounds: int) -> tuple[list[float], list[float]]:
    full: list[float] = []
    bare: list[float] = []
    for _ in range(rounds):
        full.append(time_synth(ROOT, out / "full.out", env))
        bare.append(time_synth(trivial, out / "trivial.out", env))
    return full, bare


def report(title: str, full: list[float], bare: list[float], stacks: int) -> None:
    full_med, bare_med = statistics.median(full), statistics.median(bare)
    print(title)
    print(f"  full demo app ({stacks} stacks, cdk-nag): min {min(full):.2f} s  median {full_med:.2f} s")
    print(f"  trivial one-stack app:          min {min(bare):.2f} s  median {bare_med:.2f} s")
    print(f"  ratio (median full / median trivial): {full_med / bare_med:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    env = _env()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        trivial = out / "trivial"
        trivial.mkdir()
        (trivial / "app.py").write_text(TRIVIAL_APP)
        context = json.loads((ROOT / "cdk.json").read_text())["context"]
        (trivial / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": context}))
        time_synth(trivial, out / "warm", env)  # the first run on a machine unpacks jsii caches
        shipped = compare(trivial, out, env, args.rounds)
        manifest = json.loads((out / "full.out" / "manifest.json").read_text())
        stacks = sum(a["type"] == "aws:cloudformation:stack" for a in manifest["artifacts"].values())
        equal = compare(trivial, out, {**env, "CDK_VALIDATION": "false"}, args.rounds)
    print(f"cdk synth through the CDK CLI, {args.rounds} rounds each, alternating")
    report("as shipped (goal: full <= 1.5x trivial):", *shipped, stacks)
    report("like for like, built-in validation off in both:", *equal, stacks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
