"""Shared fixtures: one synthesized demo app per test session (synth costs seconds per process)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("NODE_NO_WARNINGS", "1")
os.environ.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# cfn-lint (tests/compliance) validates every template; the built-in WASM validator would cost ~2.5 s more.
os.environ.setdefault("CDK_VALIDATION", "false")

import pytest
from aws_cdk import App, Stack, cx_api

from tests.support import share_botocore_loaders

share_botocore_loaders()

ROOT = Path(__file__).resolve().parent.parent
CDK_CONTEXT: dict[str, object] = json.loads((ROOT / "cdk.json").read_text())["context"]


def new_app(outdir: str | Path | None = None) -> App:
    """An App with cdk.json's feature flags, so tests see what ``cdk synth`` deploys."""
    return App(context=dict(CDK_CONTEXT), outdir=str(outdir) if outdir else None)


class DemoApp:
    """The demo app of app.py, synthesized once: stacks by id, templates, the assembly folder.

    ``synthesized=True`` reads an assembly another xdist worker already wrote into ``outdir``; its
    ``stacks`` (the constructs, for cdk-nag) are then built in this process only if a test asks.
    """

    def __init__(self, outdir: Path, *, synthesized: bool = False) -> None:
        self.outdir = outdir
        self._stacks: dict[str, Stack] | None = None
        if synthesized:
            self.assembly: cx_api.CloudAssembly = cx_api.CloudAssembly(str(outdir))
        else:
            self._stacks, self.assembly = self._synth(outdir)

    @staticmethod
    def _synth(outdir: Path) -> tuple[dict[str, Stack], cx_api.CloudAssembly]:
        from demo import build_all

        app = new_app(outdir)
        build_all(app)
        assembly = app.synth()
        # Every stack of the app: a multi-stack demo adds service stacks next to its demo stack.
        return {s.stack_name: s for s in app.node.children if isinstance(s, Stack)}, assembly

    @property
    def stacks(self) -> dict[str, Stack]:
        if self._stacks is None:
            self._stacks = self._synth(Path(tempfile.mkdtemp(prefix="demo-cdk.out-")))[0]
        return self._stacks

    def template(self, stack_id: str) -> dict:
        return self.assembly.get_stack_by_name(stack_id).template


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApp]:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield DemoApp(tmp_path_factory.mktemp("cdk.out"))
        return
    # Under xdist the first worker synthesizes into a folder all workers share; the others wait and read it.
    shared = tmp_path_factory.getbasetemp().parent / "demo-cdk.out"
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / ".synthesized"
        if done.exists():
            app = DemoApp(shared, synthesized=True)
        else:
            shutil.rmtree(shared, ignore_errors=True)
            app = DemoApp(shared)
            done.touch()
    yield app
