"""Where handler code lives, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# In a wheel the handler folders ship inside the package; in a checkout they sit beside it.
_CANDIDATES = (_PACKAGE_DIR / "_lambdas", _PACKAGE_DIR.parent / "lambdas")

# Test runs import handlers and leave bytecode behind; it must not change the asset hash.
ASSET_EXCLUDE = ["__pycache__", "*.pyc", ".pytest_cache"]


def lambdas_dir() -> Path:
    """The folder holding one handler folder per pattern."""
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"handler folders not found in {', '.join(map(str, _CANDIDATES))}")


def handler_dir(pattern: str) -> Path:
    """The asset folder of one pattern's handlers, e.g. ``handler_dir("pub_sub")``."""
    path = lambdas_dir() / pattern
    if not path.is_dir():
        raise FileNotFoundError(f"no handler folder for pattern {pattern!r} at {path}")
    return path


def handler_code(pattern: str, *, exclude: tuple[str, ...] = ()) -> lambda_.Code:
    """The pattern's handler folder as a Lambda asset, stable across test runs; ``exclude`` leaves out
    more of it (a folder that is deployed elsewhere, e.g. a web app's static site)."""
    return lambda_.Code.from_asset(str(handler_dir(pattern)), exclude=[*ASSET_EXCLUDE, *exclude])
