"""The wheel carries the handler folders, so constructs work when imported from site-packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from aws_cdk import App, Stack
import patterns
from patterns import PubSub, core
from patterns.pub_sub import Subscriber
assert patterns.__file__.startswith(sys.argv[1]), patterns.__file__
app = App(outdir=sys.argv[2])
stack = Stack(app, "Probe")
PubSub(stack, "P", subscribers=[Subscriber(name="A")])
app.synth()
shipped = (core.handler_dir("pub_sub") / "subscribers.py").is_file()
print(json.dumps({"lambdas": str(core.lambdas_dir()), "subscribers": shipped}))
"""


def test_wheel_ships_handlers_and_synthesizes_from_site_packages(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    # setuptools reports config problems as Python warnings (SetuptoolsDeprecationWarning, _Warning).
    assert [line for line in built.stdout.splitlines() + built.stderr.splitlines() if "Warning:" in line] == []
    wheel = next(wheels.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"patterns/py.typed", "patterns/core/layer_source/README.md"} <= names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(target), str(tmp_path / "out")],
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(target),
            "PATH": "/usr/bin:/bin",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "HOME": str(Path.home()),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["lambdas"] == str(target / "patterns" / "_lambdas")
    assert probe["subscribers"] is True
    # The synthesized asset is the shipped handler folder.
    assets = list((tmp_path / "out").glob("asset.*/subscribers.py"))
    assert assets, "the PubSub function asset does not contain the shipped handler"
