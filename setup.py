"""Ships the handler folders (lambdas/) inside the wheel as ``patterns/_lambdas``.

Constructs point ``Code.from_asset`` at those folders, so they must exist wherever ``patterns`` is
installed. pyproject.toml alone cannot map a data tree into a package, hence this file. Each handler
folder is listed as a package of its own, so setuptools ships it without "importable but absent
from packages" warnings.
"""

from pathlib import Path

from setuptools import find_packages, setup

HANDLER_FOLDERS = sorted(p.name for p in Path(__file__).parent.joinpath("lambdas").iterdir()
                         if p.is_dir() and p.name != "__pycache__")

setup(
    packages=[
        *find_packages(include=["patterns", "patterns.*"]),
        "patterns.core.layer_source",
        "patterns._lambdas",
        *(f"patterns._lambdas.{name}" for name in HANDLER_FOLDERS),
    ],
    package_dir={"patterns._lambdas": "lambdas"},
    package_data={
        "patterns": ["py.typed"],
        "patterns.core.layer_source": ["*.md"],
        **{f"patterns._lambdas.{name}": ["*.json", "*.txt"] for name in HANDLER_FOLDERS},
    },
    exclude_package_data={"": ["__pycache__/*", "*.pyc"]},
)
