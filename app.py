#!/usr/bin/env python3
"""The demo app: one stack per implemented catalog pattern (see demo/ and patterns/catalog.py).

cdk-nag's AwsSolutions and Serverless packs run as validation plugins, so ``cdk synth`` and
``cdk deploy`` stop on any unacknowledged finding.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from demo import build_all


def main() -> App:
    app = App()
    build_all(app)
    if app.node.try_get_context("nag") != "false":
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    app.synth()
    return app


if __name__ == "__main__":
    main()
