"""Cold start of every handler next to a minimal boto3-only handler making the same AWS calls.

Every demo stack is deployed into a LocalCloudServer and driven once (``demo.<pattern>.drive``), so
each function's first real event is in the journal. Then, per function, in a fresh interpreter with
the function's Lambda environment variables and the cloud's endpoint: import the handler module and
invoke it once with that event (``bench/_cold.py``). A second, untimed run records the AWS calls
that invocation makes; a third fresh interpreter imports boto3 and makes exactly those calls: the
floor any handler doing that work pays. ``ratio`` = handler total / baseline total (median of
``--rounds``). Run: ``python -m bench.handlers``.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLD = Path(__file__).resolve().parent / "_cold.py"


def _functions(outdir: Path) -> list[dict[str, Any]]:
    """Every function of the demo templates: its construct path, handler and asset folder."""
    found = []
    for template_path in sorted(outdir.glob("*.template.json")):
        template = json.loads(template_path.read_text())
        for resource in template["Resources"].values():
            metadata = resource.get("Metadata", {})
            if resource["Type"] != "AWS::Lambda::Function" or "aws:asset:path" not in metadata:
                continue
            path = metadata["aws:cdk:path"].removesuffix("/Resource")
            if "BucketNotificationsHandler" in path:  # CDK's own custom resource, not a pattern handler
                continue
            found.append({"path": path, "handler": resource["Properties"]["Handler"],
                          "folder": str(outdir / metadata["aws:asset:path"])})
    return found


def _cold(mode: str, spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec_file:
        json.dump(spec, spec_file, default=str)
    try:
        done = subprocess.run([sys.executable, str(COLD), mode, spec_file.name], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    finally:
        os.unlink(spec_file.name)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} run failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(rounds: int) -> list[dict[str, Any]]:
    from aws_cdk import App

    from demo import build_all, module_for
    from demo._drive import DriveContext, api_url_mapper
    from patterns import catalog
    from patterns.local import LocalCloudServer, control

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, LocalCloudServer() as server:
        # The CDK CLI turns these on; a bare App() would leave the handler's asset folder unnamed.
        app = App(context={**context, "aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True},
                  outdir=tmp)
        build_all(app)
        app.synth()
        outdir = Path(tmp)
        import boto3

        session = boto3.session.Session(aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
                                        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
                                        region_name=server.region)
        for entry in catalog.entries():
            # A multi-stack demo (service stacks + entry) deploys its stacks in dependency order.
            deployed = {d.name: d for d in server.deploy_all(outdir, entry.stacks)}[entry.demo_stack]
            ctx = DriveContext(stack_id=entry.demo_stack, outputs=deployed.outputs, session=session,
                               endpoint_url=server.endpoint,
                               api_url=api_url_mapper(server.api_url, server.domain_url),
                               fire_schedule=control(server.endpoint).fire_schedule)
            module_for(entry).drive(ctx)
        server.drain(timeout=120)
        lambda_client = server.client("lambda")
        for function in _functions(outdir):
            journal = server.invocations(function["path"])
            if not journal:
                rows.append({**function, "skipped": "no event reached it in the demo drive"})
                continue
            name = server.function_name(function["path"])
            config = lambda_client.get_function_configuration(FunctionName=name)
            env = {
                "PATH": os.environ["PATH"], **server.env,
                **config.get("Environment", {}).get("Variables", {}),
                "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14", "LAMBDA_TASK_ROOT": function["folder"],
            }
            spec = {**function, "event": journal[0].event}
            calls = _cold("record", spec, env)["calls"]
            handler_runs = [_cold("handler", spec, env) for _ in range(rounds)]
            baseline_runs = [_cold("baseline", {"calls": calls}, env) for _ in range(rounds)]

            def median(runs: list[dict[str, Any]], key: str) -> float:
                return statistics.median(run[key] for run in runs)

            handler_total = median(handler_runs, "import_ms") + median(handler_runs, "invoke_ms")
            baseline_total = median(baseline_runs, "import_ms") + median(baseline_runs, "invoke_ms")
            rows.append({
                **function, "calls": len(calls),
                "import_ms": median(handler_runs, "import_ms"), "invoke_ms": median(handler_runs, "invoke_ms"),
                "baseline_ms": baseline_total, "ratio": handler_total / baseline_total,
                "error": handler_runs[0]["error"],
            })
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| function | handler | AWS calls | import ms | 1st invoke ms | boto3-only ms | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        if "skipped" in row:
            print(f"| {row['path']} | {row['handler']} | - | - | - | - | {row['skipped']} |")
            continue
        note = " (failed)" if row["error"] else ""
        print(f"| {row['path']} | {row['handler']} | {row['calls']} | {row['import_ms']:.0f} | "
              f"{row['invoke_ms']:.0f}{note} | {row['baseline_ms']:.0f} | {row['ratio']:.1f}x |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handlers")
    parser.add_argument("--rounds", type=int, default=3, help="fresh interpreters per handler and per baseline")
    args = parser.parse_args(argv)
    print_table(measure(args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
