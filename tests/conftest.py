"""Shared fixtures: one synthesized demo app per test session (synth costs seconds per process)."""

from __future__ import annotations

import json
import os
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
    """The demo app of app.py, synthesized once: stacks by id, templates, the assembly folder."""

    def __init__(self, outdir: Path) -> None:
        from demo import build_all

        self.app = new_app(outdir)
        build_all(self.app)
        # Every stack of the app: a multi-stack demo adds service stacks next to its demo stack.
        self.stacks: dict[str, Stack] = {s.stack_name: s for s in self.app.node.children if isinstance(s, Stack)}
        self.assembly: cx_api.CloudAssembly = self.app.synth()
        self.outdir = outdir

    def template(self, stack_id: str) -> dict:
        return self.assembly.get_stack_by_name(stack_id).template


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApp]:
    yield DemoApp(tmp_path_factory.mktemp("cdk.out"))
