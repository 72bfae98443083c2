"""Ships the handler folders (lambdas/) inside the wheel as ``patterns/_lambdas``.

Constructs point ``Code.from_asset`` at those folders, so they must exist wherever ``patterns`` is
installed. pyproject.toml alone cannot map a data tree into a package, hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["patterns", "patterns.*"]), "patterns._lambdas"],
    package_dir={"patterns._lambdas": "lambdas"},
    package_data={
        "patterns": ["py.typed"],
        "patterns.core": ["layer_source/*.md"],
        "patterns._lambdas": ["**/*.py", "**/*.json", "**/*.txt"],
    },
    exclude_package_data={"patterns._lambdas": ["**/__pycache__/*"]},
)
