"""The demo stacks' Pillow layer: built without Docker, for the runtime AWS runs (arm64, CPython 3.14),
cached by its inputs, with a deterministic asset hash."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from aws_cdk import Stack

from patterns import core
from patterns.core import layers
from tests.conftest import DemoApp, new_app

#: ELF e_machine of 64-bit ARM (AArch64), at byte offset 18 of an ELF header (little-endian).
EM_AARCH64 = 183


def _layer_asset(demo_app: DemoApp, stack_id: str) -> Path:
    """The folder CDK zips and uploads as the stack's Pillow layer."""
    template = demo_app.template(stack_id)
    [layer] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((demo_app.outdir / f"{stack_id}.assets.json").read_text())
    return demo_app.outdir / manifest["files"][asset_hash]["source"]["path"]


@pytest.mark.parametrize("stack_id", ["ThumbnailerWithDbDemo", "FanOutFanInDemo"])
def test_the_demo_layer_holds_pillow_built_for_aarch64_cpython_314(demo_app: DemoApp, stack_id: str) -> None:
    # GIVEN the demo stack synthesized without a pillow_layer_arn
    folder = _layer_asset(demo_app, stack_id)
    # THEN the layer has Pillow where the Lambda Python runtime looks (python/), as a cp314 wheel
    [extension] = (folder / "python" / "PIL").glob("_imaging.*.so")
    assert extension.name == "_imaging.cpython-314-aarch64-linux-gnu.so"
    [wheel] = (folder / "python").glob("pillow-*.dist-info/WHEEL")
    tags = [line.removeprefix("Tag: ") for line in wheel.read_text().splitlines() if line.startswith("Tag: ")]
    assert tags and all(t.startswith("cp314-cp314-manylinux") and t.endswith("_aarch64") for t in tags)
    # AND the shared object really is AArch64 machine code
    header = extension.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64


def test_the_layer_asset_hash_is_its_inputs_so_templates_are_deterministic() -> None:
    # GIVEN two apps building the same layer
    def key() -> str:
        stack = Stack(new_app(), "S")
        layer = core.pillow_layer(stack)
        return str(stack.resolve(layer.node.default_child.content)["s3Key"])  # type: ignore[union-attr]

    # THEN they upload the same object; other pip inputs hash differently (checked without building them)
    assert key() == key()
    current = layers.requirement_hash((f"pillow=={layers.PILLOW_VERSION}",))
    assert layers.requirement_hash(("pillow==12.2.0",)) != current


def test_a_second_build_reuses_the_cache_instead_of_downloading(demo_app: DemoApp) -> None:
    # GIVEN the demo app has built the layer once (the cache entry exists)
    requirements = (f"pillow=={layers.PILLOW_VERSION}",)
    cached = layers.LAYER_CACHE / layers.requirement_hash(requirements)
    assert (cached / "python" / "PIL").is_dir()
    # WHEN it is built again THEN it is the same folder, returned without running pip
    started = time.perf_counter()
    assert layers.build_cached(requirements) == cached
    assert time.perf_counter() - started < 0.1
