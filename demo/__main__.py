"""``make demo``: synthesize every demo stack with the real CDK CLI, deploy them all to the embedded
local cloud, send one CATALOG event through each and print what came out.

The local cloud server is stopped on every path out, failures included.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import boto3

from demo import module_for
from demo._drive import DriveContext, DriveResult, api_url_mapper, distribution_url_mapper
from patterns import catalog

ROOT = Path(__file__).resolve().parent.parent
CDK = str(ROOT / "node_modules" / ".bin" / "cdk")
OUT = ROOT / "cdk.out"


def _run(args: list[str], env: dict[str, str], what: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-8000:])
        raise SystemExit(f"{what} failed (exit {result.returncode})")
    return time.perf_counter() - started


def synth(env: dict[str, str]) -> float:
    """Real ``cdk synth`` of the whole demo app into cdk.out; cdk-nag runs as a validation plugin."""
    return _run([CDK, "synth", "--quiet", "--output", str(OUT)], env, "cdk synth")


def print_synth_summary(seconds: float) -> None:
    manifest = json.loads((OUT / "manifest.json").read_text())
    stacks = [name for name, art in manifest["artifacts"].items() if art["type"] == "aws:cloudformation:stack"]
    print(f"\nSynthesized {len(stacks)} demo stacks in {seconds:.1f} s (cdk-nag AwsSolutions + Serverless: clean)\n")
    print(f"  {'stack':<32} {'resources':>9}  {'template KB':>11}")
    for name in sorted(stacks):
        template_path = OUT / f"{name}.template.json"
        resources = len(json.loads(template_path.read_text()).get("Resources", {}))
        print(f"  {name:<32} {resources:>9}  {template_path.stat().st_size / 1024:>11.1f}")


def deploy_and_drive(env: dict[str, str]) -> list[tuple[str, DriveResult, float]]:
    # One access-log line per AWS call of every handler would bury the table (`serve` keeps them).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from patterns.local import LocalCloudServer, Settings, control

    rows: list[tuple[str, DriveResult, float]] = []
    with LocalCloudServer(settings=Settings(journal_limit=10_000)) as server:
        cdk_env = {**env, **server.env}
        print(f"\nLocal cloud on {server.endpoint}")
        took = _run(
            [CDK, "bootstrap", "--app", str(OUT), f"aws://{server.account_id}/{server.region}"],
            cdk_env,
            "cdk bootstrap",
        )
        print(f"  cdk bootstrap: {took:.1f} s")
        took = _run(
            [
                CDK,
                "deploy",
                "--app",
                str(OUT),
                "--all",
                "--method=direct",
                "--require-approval",
                "never",
                "--concurrency",
                "4",
                "--progress",
                "events",
            ],
            cdk_env,
            "cdk deploy",
        )
        print(f"  cdk deploy --all: {took:.1f} s")
        # The update path: every stack again, forced, onto the stacks just created.
        took = _run(
            [CDK, "deploy", "--app", str(OUT), "--all", "--method=direct", "--require-approval", "never",
             "--concurrency", "4", "--force"],
            cdk_env, "cdk deploy --all --force (update)",
        )
        print(f"  cdk deploy --all --force (update path): {took:.1f} s\n")
        session = boto3.session.Session(
            aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
            region_name=server.region,
        )
        cfn = session.client("cloudformation", endpoint_url=server.endpoint)
        for entry in catalog.entries():
            described = cfn.describe_stacks(StackName=entry.demo_stack)["Stacks"][0]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
            ctx = DriveContext(
                stack_id=entry.demo_stack,
                outputs=outputs,
                session=session,
                endpoint_url=server.endpoint,
                api_url=api_url_mapper(server.api_url, server.domain_url),
                fire_schedule=control(server.endpoint).fire_schedule,
                distribution_url=distribution_url_mapper(server.distribution_url),
            )
            started = time.perf_counter()
            try:
                result = module_for(entry).drive(ctx)
            except Exception as error:  # a row, not a crash: the other patterns still run
                result = DriveResult(sent="(driver raised)", outcome=f"{type(error).__name__}: {error}", ok=False)
            rows.append((entry.name, result, time.perf_counter() - started))
    return rows


def print_rows(rows: list[tuple[str, DriveResult, float]]) -> None:
    width = max(len(name) for name, _, _ in rows)
    print(f"  {'pattern':<{width}}  ok  {'time':>6}  sent → outcome")
    for name, result, seconds in rows:
        mark = "✔" if result.ok else "✘"
        print(f"  {name:<{width}}  {mark}  {seconds:>5.1f}s  {result.sent} → {result.outcome}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo")
    parser.add_argument("--synth-only", action="store_true", help="stop after cdk synth")
    args = parser.parse_args(argv)
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "NODE_NO_WARNINGS": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    # `cdk` runs `python3 app.py`: make that the interpreter running this driver (the venv's).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), env["PATH"]])
    started = time.perf_counter()
    print_synth_summary(synth(env))
    if args.synth_only:
        return 0
    rows = deploy_and_drive(env)
    print_rows(rows)
    failed = [name for name, result, _ in rows if not result.ok]
    total = time.perf_counter() - started
    print(f"\n{len(rows) - len(failed)}/{len(rows)} patterns behaved as the catalog says; total {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
