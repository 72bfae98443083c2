"""pytest plugin (entry point ``pytest11``): a ``local_cloud`` fixture for end-to-end tests of any CDK app.

::

    def build(app):                               # your stacks, added to the App the plugin makes
        MyStack(app, "MyStack")

    def test_orders_reach_billing(local_cloud):
        stack = local_cloud.deploy_app(build)["MyStack"]   # synthesized and deployed once per session
        local_cloud.client("sns").publish(TopicArn=stack.outputs["TopicArn"], Message="{}")
        local_cloud.drain()
        assert all(i.ok for i in local_cloud.invocations("MyStack/Orders/BillingHandler"))

The fixture is a started :class:`patterns.local.LocalCloud` (every attribute of it) plus ``deploy_app``.
Its scope is ``session`` unless ``--local-cloud-scope`` or the ``local_cloud_scope`` ini option says
otherwise. Which stacks ``deploy_app`` deploys: its ``stacks=`` argument, else the closest
``@pytest.mark.local_cloud_stacks(...)``, else ``--local-cloud-stacks`` / ``local_cloud_stacks``, else
all. When a test that uses the fixture fails, its report gets a "local cloud" section: every invocation
that errored while it ran (function, error, the last log lines) and every delivery that could not happen.

The plugin is loaded in every pytest session once the library is installed, so importing it costs
nothing: aws_cdk and the local cloud are imported only when a test asks for ``local_cloud``.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# patterns.local is imported by name when a test asks for the fixture: it is an optional extra, and
# the type check of the library stops at its boundary (it is excluded from mypy while rewritten).
LocalCloud = Any
DeployedStack = Any

SCOPES = ("session", "package", "module", "class", "function")
MARKER = "local_cloud_stacks"


@dataclass
class _State:
    """What the hooks need to know about the running cloud and the test in progress."""

    cloud: Any = None
    item: pytest.Item | None = None
    started: float = 0.0
    errors_before: int = 0
    log_lines: int = 20


_STATE = pytest.StashKey[_State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("local-cloud", "the local cloud (patterns.local)")
    group.addoption(
        "--local-cloud-scope", choices=SCOPES, default=None, help="scope of the local_cloud fixture (Default: session)"
    )
    group.addoption(
        "--local-cloud-stacks", default=None, help="comma-separated stacks deploy_app deploys (Default: all of the app)"
    )
    parser.addini("local_cloud_scope", "scope of the local_cloud fixture (Default: session)", default="session")
    parser.addini("local_cloud_stacks", "stacks deploy_app deploys (Default: all of the app)", type="args", default=[])
    parser.addini("local_cloud_log_lines", "log lines per failed invocation in a report (Default: 20)", default="20")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(*names): the stacks local_cloud.deploy_app deploys for these tests")
    config.stash[_STATE] = _State(log_lines=int(config.getini("local_cloud_log_lines")))


def _scope(fixture_name: str, config: pytest.Config) -> str:
    scope = config.getoption("local_cloud_scope") or config.getini("local_cloud_scope")
    if scope not in SCOPES:
        raise pytest.UsageError(f"local_cloud_scope must be one of {', '.join(SCOPES)} (given {scope!r})")
    return str(scope)


@dataclass
class _App:
    """One synthesized app: its assembly folder, its stacks and which of them are deployed."""

    outdir: Path
    stacks: list[str]
    deployed: set[str] = field(default_factory=set)


class LocalCloudFixture:
    """A running :class:`~patterns.local.LocalCloud` (attributes pass through) that can deploy a CDK app."""

    def __init__(self, cloud: LocalCloud, config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.cloud = cloud
        self._config = config
        self._tmp = tmp_path_factory
        self._apps: dict[Callable[..., Any], _App] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cloud, name)

    def deploy_app(
        self,
        factory: Callable[[Any], Any],
        *,
        stacks: Sequence[str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> dict[str, DeployedStack]:
        """Deploy the stacks ``factory(app)`` adds to a new ``aws_cdk.App``, by stack name.

        The app is synthesized once per fixture lifetime into a temporary assembly, and each stack
        deployed once: a second call (another test, another module) returns what is already there.
        ``context`` Default: the ``context`` of the ``cdk.json`` in pytest's rootdir, if there is one
        (so the templates are those ``cdk synth`` makes).
        """
        app = self._apps.get(factory)
        if app is None:
            app = self._apps[factory] = self._synth(factory, context)
        wanted = list(stacks) if stacks else self._chosen() or app.stacks
        unknown = sorted(set(wanted) - set(app.stacks))
        if unknown:
            known = sorted(app.stacks)
            raise ValueError(f"no stack {', '.join(unknown)} in the app of {factory.__qualname__}: it has {known}")
        missing = [s for s in wanted if s not in app.deployed]
        if missing:
            self.cloud.deploy_all(app.outdir, missing)
            app.deployed.update(missing)
        return {name: self.cloud.stack(name) for name in wanted}

    def _chosen(self) -> list[str]:
        item = self._config.stash[_STATE].item
        marker = item.get_closest_marker(MARKER) if item is not None else None
        if marker is not None:
            return [str(name) for name in marker.args]
        option = self._config.getoption("local_cloud_stacks")
        if option:
            return [s.strip() for s in str(option).split(",") if s.strip()]
        return list(self._config.getini("local_cloud_stacks"))

    def _synth(self, factory: Callable[[Any], Any], context: dict[str, Any] | None) -> _App:
        os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads
        from aws_cdk import App

        if context is None:
            cdk_json = Path(self._config.rootpath) / "cdk.json"
            context = json.loads(cdk_json.read_text()).get("context", {}) if cdk_json.is_file() else {}
        outdir = self._tmp.mktemp("cdk.out")
        cdk_app = App(outdir=str(outdir), context=dict(context))
        factory(cdk_app)
        assembly = cdk_app.synth()
        return _App(outdir=outdir, stacks=[s.stack_name for s in assembly.stacks])


@pytest.fixture(scope=_scope)  # type: ignore[arg-type]
def local_cloud(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCloudFixture]:
    """A started local cloud, stopped (every execution environment killed) when the scope ends."""
    local = importlib.import_module("patterns.local")
    state = pytestconfig.stash[_STATE]
    with local.LocalCloud() as cloud:
        state.cloud, state.errors_before = cloud, len(cloud.errors)
        try:
            yield LocalCloudFixture(cloud, pytestconfig, tmp_path_factory)
        finally:
            state.cloud = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if "local_cloud" not in getattr(item, "fixturenames", ()):
        return
    state = item.config.stash[_STATE]
    state.item, state.started = item, time.time()
    state.errors_before = len(state.cloud.errors) if state.cloud is not None else 0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed or "local_cloud" not in getattr(item, "fixturenames", ()):
        return
    text = failure_journal(item.config.stash[_STATE])
    if text:
        report.sections.append((f"local cloud: what failed during {report.when}", text))


def failure_journal(state: _State) -> str:
    """The invocations that errored and the deliveries that failed since the test started."""
    cloud = state.cloud
    if cloud is None:
        return ""
    lines = []
    for invocation in cloud.invocations():
        if invocation.ok or invocation.ended_at < state.started:
            continue
        error = invocation.error or {}
        kind = error.get("errorType", "Throttled" if invocation.throttled else "Error")
        lines.append(f"{invocation.function_name} ({invocation.source}, {invocation.request_id}): "
                     f"{kind}: {error.get('errorMessage', '')}".rstrip())
        lines += [f"    {log}" for log in invocation.logs.splitlines()[-state.log_lines:]]
    failed = list(cloud.errors)[state.errors_before:]
    if failed:
        lines.append("deliveries that could not happen:")
        lines += [f"    {error}" for error in failed]
    return "\n".join(lines)
