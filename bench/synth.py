"""Synth time of the full demo app against a trivial one-stack app, measured side by side.

Both run through the real CDK CLI with the same interpreter, cdk.json feature flags and settings,
alternating in each round so machine noise hits both alike. Prints min/median and the ratio.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads

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
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "NODE_NO_WARNINGS": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), env["PATH"]])
    return env


def time_synth(app_dir: Path, out: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [CDK, "synth", "--quiet", "--output", str(out)], cwd=app_dir, env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    env = _env()
    with tempfile.TemporaryDirectory() as tmp:
        trivial = Path(tmp) / "trivial"
        trivial.mkdir()
        (trivial / "app.py").write_text(TRIVIAL_APP)
        cdk_json = json.loads((ROOT / "cdk.json").read_text())
        (trivial / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": cdk_json["context"]}))
        full_times, trivial_times = [], []
        time_synth(trivial, Path(tmp) / "warm", env)  # first run on a machine unpacks jsii caches
        for _ in range(args.rounds):
            full_times.append(time_synth(ROOT, Path(tmp) / "full.out", env))
            trivial_times.append(time_synth(trivial, Path(tmp) / "trivial.out", env))
        stacks = len(
            [
                a
                for a in json.loads((Path(tmp) / "full.out" / "manifest.json").read_text())["artifacts"].values()
                if a["type"] == "aws:cloudformation:stack"
            ]
        )
    full_med, triv_med = statistics.median(full_times), statistics.median(trivial_times)
    print(f"cdk synth, {args.rounds} rounds, alternating (CDK CLI {CDK.rsplit('/', 3)[-3]})")
    print(f"  full demo app ({stacks} stacks, cdk-nag plugins): min {min(full_times):.2f} s  median {full_med:.2f} s")
    print(f"  trivial one-stack app:                 min {min(trivial_times):.2f} s  median {triv_med:.2f} s")
    print(f"  ratio (median full / median trivial): {full_med / triv_med:.2f}x  (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
