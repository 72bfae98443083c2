"""The pytest plugin (``pytest11`` entry point): a user's project tests its own plain aws-cdk-lib stack.

pytester runs the user's tests in this process (the CDK and the local cloud are loaded once); its
inner session finds the fixture through the installed package's entry point alone (no ``-p``).
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distributions

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import pytest
from aws_cdk import Stack, aws_lambda as lambda_

SYNTHS = []
CODE = """
def handler(event, context):
    print("got", event)
    if event.get("fail"):
        raise ValueError("no " + event["fail"])
    return event
"""


def build(app):
    SYNTHS.append(app)
    for name in ("Plain", "Other"):
        lambda_.Function(Stack(app, name), "Echo", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                         code=lambda_.Code.from_inline(CODE))


@pytest.mark.local_cloud_stacks("Plain")
def test_marker_chooses_the_stacks(local_cloud):
    assert set(local_cloud.deploy_app(build)) == {"Plain"}
    assert local_cloud.invoke("Plain/Echo", {"x": 1}) == {"x": 1}


def test_a_failure_shows_the_journal(local_cloud):
    local_cloud.deploy_app(build)
    local_cloud.invoke("Other/Echo", {"fail": "luck"})


def test_the_app_was_synthesized_once_and_each_stack_deployed_once(local_cloud):
    assert set(local_cloud.deploy_app(build)) == {"Plain", "Other"}
    assert len(SYNTHS) == 1 and [s.name for s in local_cloud.stacks()].count("Plain") == 1


def test_fails_if_a_chosen_stack_is_not_in_the_app(local_cloud):
    with pytest.raises(ValueError, match=r"no stack Missing in the app of build: it has \\['Other', 'Plain'\\]"):
        local_cloud.deploy_app(build, stacks=["Plain", "Missing"])


def test_a_passing_test_gets_no_journal(local_cloud):
    with pytest.raises(Exception, match="no luck"):
        local_cloud.invoke("Other/Echo", {"fail": "luck"})
'''


def test_the_installed_package_registers_the_plugin() -> None:
    # Every copy of the metadata, as pytest reads them (a stale build's egg-info may shadow the installed one).
    registered = {(e.name, e.value) for d in distributions() for e in d.entry_points if e.group == "pytest11"}
    assert ("patterns_local_cloud", "patterns.pytest_plugin") in registered


def test_a_user_project_tests_its_stack_and_a_failure_prints_the_journal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=4, failed=1)
    output = result.stdout.str()
    section = output.split("local cloud: what failed during call", 1)[1].split("short test summary", 1)[0]
    assert "Other-Echo" in section and "ValueError: no luck" in section
    assert "got {'fail': 'luck'}" in section and "REPORT RequestId:" in section  # the invocation's last log lines
    assert output.count("local cloud: what failed during") == 1  # the passing test with a failed invoke: none


def test_fails_if_the_scope_is_unknown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_any(local_cloud):\n    pass\n")
    pytester.makeini("[pytest]\nlocal_cloud_scope = forever\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "local_cloud_scope must be one of session, package, module, class, function (given 'forever')" in (
        result.stdout.str() + result.stderr.str()
    )


def test_loading_the_plugin_imports_neither_the_cdk_nor_the_local_cloud() -> None:
    """Every pytest session of an environment with the library installed loads it; it must cost nothing."""
    heavy = "{'aws_cdk', 'patterns.local', 'moto'}"
    probe = f"import sys, patterns.pytest_plugin; print(sorted({heavy} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
