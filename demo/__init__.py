"""Demo stacks of app.py: one module per pattern, named like the pattern module.

Each ``demo/<pattern>.py`` defines ``build(scope, stack_id) -> Stack`` (the demo stack) and
``drive(ctx) -> DriveResult`` (sends one CATALOG event through the deployed stack for ``make demo``).
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads
from types import ModuleType

from aws_cdk import Stack
from constructs import Construct

from patterns import catalog


def module_for(entry: catalog.PatternInfo) -> ModuleType:
    return importlib.import_module(f"demo.{entry.module.rsplit('.', 1)[-1]}")


def build_all(scope: Construct) -> list[Stack]:
    """Add every implemented pattern's demo stack to ``scope`` (an App)."""
    return [module_for(e).build(scope, e.demo_stack) for e in catalog.entries()]
