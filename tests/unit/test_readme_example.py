"""The README's "use a construct in your own stack" example synthesizes as written."""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from tests.conftest import ROOT, new_app


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use a construct in your own stack", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_synthesizes(tmp_path: Path) -> None:
    # GIVEN the user's own handler folder the example points at
    (tmp_path / "src" / "billing").mkdir(parents=True)
    (tmp_path / "src" / "billing" / "billing.py").write_text("def handler(event, context):\n    return {}\n")
    # (asset paths resolve in the jsii runtime, whose working directory is fixed at start-up)
    example = _example().replace('"src/billing"', repr(str(tmp_path / "src" / "billing")))
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # our own README

    # WHEN the example stack is built with a publisher role
    app = new_app()
    roles = Stack(app, "Roles")
    publisher = iam.Role(roles, "Publisher", assumed_by=iam.AccountRootPrincipal())
    orders = namespace["Orders"](app, "Orders", publisher=publisher)  # type: ignore[operator]

    # THEN the subscriber runs the user's handler behind its filter policy
    template = Template.from_stack(orders)
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": "billing.handler"})
    template.has_resource_properties("AWS::SNS::Subscription", {"FilterPolicy": {"status": ["placed"]}})
