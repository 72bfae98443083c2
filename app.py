#!/usr/bin/env python3
"""The demo app: one stack per implemented catalog pattern (see demo/ and patterns/catalog.py).

cdk-nag's AwsSolutions and Serverless packs run as validation plugins, so ``cdk synth`` and
``cdk deploy`` stop on any unacknowledged finding.

aws-cdk-lib's built-in CloudFormation schema validation (a WASM module, ~2.5 s per synth here) is
off by default: the test suite runs cfn-lint over every synthesized template, which checks the same
schemas and more. ``CDK_VALIDATION=true cdk synth`` turns it back on. The option is newer than the
lowest aws-cdk-lib the library supports, so it is passed only where ``App`` takes it (older releases
have no such validation to turn off).
"""

from __future__ import annotations

import inspect
import os

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from demo import build_all


def app_options() -> dict[str, bool]:
    """``App`` keyword arguments this aws-cdk-lib accepts (feature-detected, not version-compared)."""
    if "builtin_cloud_formation_validation" not in inspect.signature(App.__init__).parameters:
        return {}
    return {"builtin_cloud_formation_validation": os.environ.get("CDK_VALIDATION", "").lower() == "true"}


def main() -> App:
    app = App(**app_options())
    build_all(app)
    if app.node.try_get_context("nag") != "false":
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    app.synth()
    return app


if __name__ == "__main__":
    main()
