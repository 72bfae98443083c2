"""Lambda layers built from PyPI wheels without Docker: CDK local bundling runs ``pip install
--platform ... --only-binary=:all:`` for the library's runtime and architecture.

The Lambda Python runtime has no Pillow, and a ``cdk deploy`` must not depend on someone else's
published layer ARN (Klayers versions move and are per region), nor on Docker. pip can fetch the
wheels of another platform as long as it only takes binary wheels, so the layer is built on any
machine. Each build is cached by its inputs (package, version, platform, Python version) under
``LAYER_CACHE`` and the asset hash is those inputs, so a synth or a test run copies (hard-links)
the cached files instead of downloading them again, and templates stay deterministic.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .functions import ARCHITECTURE, RUNTIME

#: The Pillow release the layer installs. Default of ``pillow_layer``'s ``version``.
PILLOW_VERSION = "13.0.0"
#: Wheel platforms for Lambda's arm64 runtimes (Amazon Linux 2023, glibc 2.34): manylinux2014 and
#: manylinux_2_28 wheels both run there; Pillow 13 publishes only the latter for aarch64.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64") if ARCHITECTURE.name == "arm64" else (
    "manylinux2014_x86_64", "manylinux_2_28_x86_64"
)
PYTHON_VERSION = RUNTIME.name.removeprefix("python")  # "3.14"
#: Where built layers are kept, one folder per input hash. Override with SERVERLESS_PATTERNS_CACHE.
LAYER_CACHE = Path(
    os.environ.get("SERVERLESS_PATTERNS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "serverless-patterns-cdk"
) / "layers"
#: Bumped when the layout of a built layer changes, so old cache entries and asset hashes are not reused.
_LAYOUT = 1


def requirement_hash(requirements: tuple[str, ...]) -> str:
    """The identity of a layer build: what pip is asked to install, for which platform and Python."""
    inputs = {"requirements": requirements, "platforms": PLATFORMS, "python": PYTHON_VERSION, "layout": _LAYOUT}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def build_cached(requirements: tuple[str, ...]) -> Path:
    """The folder holding ``python/`` with ``requirements`` installed for Lambda, built once per input hash.

    The build goes to a temporary folder renamed into place, so an interrupted build is never reused.
    """
    target = LAYER_CACHE / requirement_hash(requirements)
    if (target / "python").is_dir():
        return target
    LAYER_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=LAYER_CACHE))
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--only-binary=:all:", *platforms, "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--target", str(staging / "python"), *requirements,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(
            f"building the layer {' '.join(requirements)} for {RUNTIME.name}/{ARCHITECTURE.name} failed "
            f"(it needs PyPI once, then it is cached in {LAYER_CACHE}): {done.stderr.strip()[-2000:]}"
        )
    try:
        staging.rename(target)
    except OSError:  # built concurrently by another process: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """CDK local bundling of a layer: the cached pip build, hard-linked into the asset folder."""

    def __init__(self, requirements: tuple[str, ...]) -> None:
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *, image: DockerImage, **options: Any) -> bool:
        """Bundle into ``output_dir``; ``image`` and the other Docker options are unused (no Docker)."""
        built = build_cached(self.requirements)
        shutil.copytree(built / "python", Path(output_dir) / "python", copy_function=_link_or_copy,
                        dirs_exist_ok=True)
        return True


def pip_layer(
    scope: Construct, construct_id: str, *, requirements: tuple[str, ...], description: str
) -> lambda_.LayerVersion:
    """A layer of PyPI packages for the library's runtime and architecture, built without Docker.

    Docker (the SAM build image) is only the fallback CDK uses if local bundling is unavailable.
    """
    platforms = " ".join(f"--platform {p}" for p in PLATFORMS)
    code = lambda_.Code.from_asset(
        str(Path(__file__).parent / "layer_source"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=requirement_hash(requirements),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-{RUNTIME.name}"),
            command=[
                "bash", "-c",
                f"pip install --only-binary=:all: {platforms} --python-version {PYTHON_VERSION} "
                f"--implementation cp --target /asset-output/python {' '.join(requirements)}",
            ],
            local=PipLayerBundling(requirements),
        ),
    )
    return lambda_.LayerVersion(
        scope, construct_id,
        code=code,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description=description,
    )


def pillow_layer(
    scope: Construct, construct_id: str = "PillowLayer", *, version: str = PILLOW_VERSION
) -> lambda_.LayerVersion:
    """Pillow for the library's runtime and architecture (python3.14, arm64), for ThumbnailerWithDb's
    and FanOutFanIn's ``pillow_layer``."""
    return pip_layer(
        scope, construct_id, requirements=(f"pillow=={version}",),
        description=f"Pillow {version} for {RUNTIME.name} on {ARCHITECTURE.name}",
    )
