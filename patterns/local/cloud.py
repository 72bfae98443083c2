"""The two ways into the local cloud: in-process for pytest, and a server for the CDK CLI."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .context import activate, deactivate
from .core import DEFAULT_ACCOUNT, DEFAULT_REGION, CloudCore
from .core.moto_fixes import expire_log_events
from .core.moto_port import serve_moto
from .delivery.engine import Settings
from .deploy import Assembly, DeployedStack, Deployer
from .errors import LocalCloudError
from .runtime import Invocation

#: The access key the local cloud hands out; the CDK CLI caches accounts per key, so it is
#: distinct from anything real.
ACCESS_KEY_ID = "LOCALCLOUDACCESSKEY1"
#: The secret of the in-process LocalCloud's key; a LocalCloudServer makes a new one per server.
SECRET_ACCESS_KEY = "localcloud-secret"


class _Cloud:
    """Inspection and deployment API shared by LocalCloud and LocalCloudServer."""

    core: CloudCore

    def __init__(self, *, account_id: str, region: str, settings: Settings | None, front_door: bool) -> None:
        self.account_id = account_id
        self.region = region
        self.settings = settings or Settings()
        self._want_front_door = front_door
        self._front_door: Any = None
        #: Base URL of the HTTP front door serving API Gateway APIs, when it runs.
        self.front_door_url: str | None = None
        #: Why there is no HTTP front door, when there is none.
        self.front_door_error: str | None = None
        self._deployer: Deployer | None = None
        self._paths: dict[str, dict[str, str]] = {}
        self._started = False

    # -- lifecycle helpers -----------------------------------------------------------------------

    def _start_front_door(self) -> None:
        from .frontdoor.apigateway import FrontDoor
        from .models import apigateway as apigateway_models
        from .models import domains as domain_models
        from .models.registry import clear_model_caches

        # API Gateway resources deploy with or without the HTTP front door that serves them.
        apigateway_models.install()
        domain_models.install()
        clear_model_caches()
        if not self._want_front_door:
            self.front_door_error = "disabled"
            return
        self._front_door = FrontDoor(
            invoke=self._front_door_invoke,
            account_id=self.account_id,
            region=self.region,
            backend_lock=self.core.lock,
            clock=self.core.engine.clock,
            **self._front_door_options(),
        )
        self._front_door.credentials = {ACCESS_KEY_ID: SECRET_ACCESS_KEY}
        self.front_door_url = str(self._front_door.start(host="127.0.0.1", port=0))
        self.core.front_door_url = self.front_door_url  # pipes with API Gateway targets call it

    def _front_door_options(self) -> dict[str, Any]:
        """Extra FrontDoor options (a server passes its origin allowlist and read timeout)."""
        return {}

    def _stop_front_door(self) -> None:
        if self._front_door is not None:
            self._front_door.stop()
            self._front_door = None
            self.front_door_url = None
            self.core.front_door_url = None

    def _front_door_invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        result = self.core.invoke(function, event, source="apigateway")
        return result  # type: ignore[no-any-return]

    @property
    def deployer(self) -> Deployer:
        if self._deployer is None:
            self._deployer = Deployer(self.core)
        return self._deployer

    # -- deployment ------------------------------------------------------------------------------

    def deploy(
        self, assembly_dir: str | os.PathLike[str], stack: str, *, parameters: Mapping[str, str] | None = None
    ) -> DeployedStack:
        """Deploy one stack of a synthesized cloud assembly (by artifact id or stack name)."""
        assembly = Assembly(assembly_dir)
        artifact = assembly.find(stack)
        self._paths[artifact.stack_name] = dict(artifact.paths)
        return self.deployer.deploy_artifact(assembly, artifact, parameters)

    def deploy_all(
        self, assembly_dir: str | os.PathLike[str], stacks: Iterable[str] | None = None
    ) -> list[DeployedStack]:
        """Deploy stacks (all by default) in dependency order."""
        assembly = Assembly(assembly_dir)
        deployed = []
        for artifact in assembly.in_dependency_order(stacks):
            self._paths[artifact.stack_name] = dict(artifact.paths)
            deployed.append(self.deployer.deploy_artifact(assembly, artifact))
        return deployed

    def deploy_template(
        self, template: Mapping[str, Any], stack_name: str, *, parameters: Mapping[str, str] | None = None
    ) -> DeployedStack:
        """Deploy a CloudFormation template given as a dict (no assets)."""
        return self.deployer.deploy_template(stack_name, template, parameters=parameters)

    def destroy(self, stack_name: str) -> None:
        self.deployer.destroy(stack_name)

    def stacks(self) -> list[DeployedStack]:
        """Every live stack, however it was deployed (in-process or by the CDK CLI)."""
        from moto.cloudformation.models import cloudformation_backends

        with self.core.lock:
            backend = cloudformation_backends[self.account_id][self.region]
            return [
                self.deployer._describe(s, self._paths.get(s.name, {}))
                for s in list(backend.stacks.values())
                if s.status.endswith("_COMPLETE") and not s.status.startswith("DELETE")
            ]

    def stack(self, name: str) -> DeployedStack:
        for stack in self.stacks():
            if stack.name == name:
                return stack
        raise LocalCloudError(f"no stack {name!r} is deployed")

    def physical_id(self, ref: str) -> str:
        """Physical id of a resource given as logical id, ``Stack/LogicalId`` or construct path."""
        matches = []
        stack_name, _, rest = ref.partition("/")
        for stack in self.stacks():
            if ref in stack.resources:
                matches.append(stack.resources[ref])
            elif rest and stack.name == stack_name and rest in stack.resources:
                matches.append(stack.resources[rest])
            else:
                with contextlib.suppress(LocalCloudError):
                    matches.append(stack.resource_by_path(ref))
        unique = {(m.stack_name, m.logical_id): m for m in matches}
        if len(unique) > 1:
            where = ", ".join(f"{s}/{lid}" for s, lid in unique)
            raise LocalCloudError(f"{ref!r} is ambiguous: {where}; qualify it as Stack/LogicalId")
        if not unique:
            raise LocalCloudError(f"no deployed resource {ref!r}")
        return next(iter(unique.values())).physical_id

    # -- clients and functions -------------------------------------------------------------------

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client bound to this cloud."""
        return self.core.client(service, **kwargs)

    def function_name(self, ref: str) -> str:
        """A function's name from its name, ARN, logical id or construct path."""
        if ref.startswith("arn:"):
            return ref.split(":")[6]
        with self.core.lock:
            if self.core.moto_function(ref) is not None:
                return ref
        physical = self.physical_id(ref)
        return physical.split(":")[6] if physical.startswith("arn:") else physical

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function synchronously; FunctionError carries the Lambda error shape."""
        return self.core.invoke(self.function_name(function), event)

    def invocations(self, function: str | None = None) -> list[Invocation]:
        """The journal: every invocation (of one function, if given), in completion order."""
        if function is None:
            return self.core.journal.entries()
        return self.core.journal.entries(self.function_name(function))

    def max_concurrency(self, function: str) -> int:
        """The most invocations of ``function`` that were ever running at the same time."""
        return self.core.runtime.max_concurrency(self.function_name(function))

    def logs(self, function: str) -> list[str]:
        """Every line in the function's CloudWatch log group."""
        spec = self.core.function_spec(self.function_name(function))
        if spec is None:
            raise LocalCloudError(f"no function {function!r}")
        with self.core.lock:
            group = self.core.logs_backend(spec.account_id, spec.region).groups.get(spec.log_group)
            if group is None:
                return []
            expire_log_events(group, self.core.engine.clock())
            events = [e for stream in group.streams.values() for e in stream.events]
        return [e.message for e in sorted(events, key=lambda e: e.timestamp)]

    # -- event sources -------------------------------------------------------------------------------

    def drain(self, timeout: float = 30.0) -> None:
        """Run pollers and deliveries until nothing is left; DrainTimeout says what was pending."""
        self.core.engine.drain(timeout)

    def advance(self, seconds: float) -> None:
        """Move the local cloud's clock ``seconds`` forward (DynamoDB TTL, Firehose buffer intervals
        and queued retries see it); drain() afterwards runs what became due."""
        self.core.engine.advance(seconds)

    def pending(self) -> list[str]:
        return self.core.engine.pending()

    @property
    def errors(self) -> list[str]:
        """Deliveries that could not happen and failed stacks, for diagnosis."""
        return list(self.core.delivery_errors) + list(self.core.engine.errors)

    def _rule(self, ref: str) -> Any:
        with self.core.lock:
            backend = self.core.events_backend(self.account_id, self.region)
            for bus in backend.event_buses.values():
                if ref in bus.rules:
                    return bus.rules[ref]
        name = self.physical_id(ref)
        with self.core.lock:
            for bus in backend.event_buses.values():
                for rule in bus.rules.values():
                    if name in (rule.name, rule.arn) or name.split("|")[-1] == rule.name:
                        return rule
        raise LocalCloudError(f"no EventBridge rule {ref!r}")

    def _schedule(self, ref: str) -> Any:
        """An EventBridge Scheduler schedule by name, ``group/name``, logical id or path; or None."""
        from moto.scheduler.models import scheduler_backends

        names = {ref}
        with contextlib.suppress(LocalCloudError):
            names.add(self.physical_id(ref))
        with self.core.lock:
            for group in scheduler_backends[self.account_id][self.region].schedule_groups.values():
                for schedule in group.schedules.values():
                    if names & {schedule.name, f"{group.name}/{schedule.name}", schedule.arn}:
                        return schedule
        return None

    def fire_schedule(self, rule: str) -> None:
        """Run a schedule now: an EventBridge schedule rule (its targets get AWS's 'Scheduled
        Event') or an EventBridge Scheduler schedule (its target gets its Input). Then drain()."""
        from .delivery.targets import deliver_rule_event, deliver_schedule, scheduled_event

        schedule = self._schedule(rule)
        if schedule is not None:
            with self.core.lock:
                deliver_schedule(self.core, schedule)
            return
        found = self._rule(rule)
        if not found.scheduled_expression:
            raise LocalCloudError(f"rule {found.name} has no schedule expression")
        with self.core.lock:
            deliver_rule_event(self.core, found, scheduled_event(found))

    # -- HTTP front door -------------------------------------------------------------------------

    def api_url(self, api: str, stage: str = "prod") -> str:
        """Base URL of a deployed API (REST or HTTP API) on the local front door."""
        if self._front_door is None:
            raise LocalCloudError(f"no HTTP front door: {self.front_door_error}")
        try:
            api_id = self.physical_id(api)
        except LocalCloudError:
            api_id = api
        return str(self._front_door.url_for(api_id, stage))

    def function_url(self, function: str) -> str:
        """Base URL of a function's URL (AWS::Lambda::Url) on the local front door."""
        if self._front_door is None:
            raise LocalCloudError(f"no HTTP front door: {self.front_door_error}")
        name = self.function_name(function)
        with self.core.lock:
            moto_function = self.core.moto_function(name)
            config = getattr(moto_function, "url_config", None)
        if config is None:
            raise LocalCloudError(f"function {name} has no function URL")
        return str(self._front_door.function_url_for(config.url))

    def domain_url(self, domain_name: str) -> str:
        """Base URL answering as ``https://<domain_name>`` does: its APIs by base path (custom domains)."""
        from .frontdoor import domains

        if self._front_door is None:
            raise LocalCloudError(f"no HTTP front door: {self.front_door_error}")
        if not domains.known(self._front_door, domain_name):
            raise LocalCloudError(f"no custom domain name {domain_name!r} is deployed")
        return domains.url_for(self._front_door, domain_name)

    def graphql_url(self, api: str) -> str:
        """URL of a deployed AppSync GraphQL API on the front door (POST queries to it)."""
        if self._front_door is None:
            raise LocalCloudError(f"no HTTP front door: {self.front_door_error}")
        try:
            api_id = self.physical_id(api)
        except LocalCloudError:
            api_id = api
        if api_id.startswith("arn:"):  # Ref of a GraphQLApi is its ARN: ...:apis/<api id>
            api_id = api_id.rsplit("/", 1)[-1]
        return f"{self._front_door.base_url}/{api_id}/graphql"

    def distribution_url(self, distribution: str) -> str:
        """Base URL of a deployed CloudFront distribution (id, domain name, logical id or construct
        path) on the local front door: ``http://<id>.cloudfront.localhost:PORT``."""
        if self._front_door is None:
            raise LocalCloudError(f"no HTTP front door: {self.front_door_error}")
        from .models.cloudfront import STORE

        found = STORE.distribution(distribution.removeprefix("https://").split("/")[0])
        if found is None:
            found = STORE.distribution(self.physical_id(distribution))
        if found is None:
            raise LocalCloudError(f"no CloudFront distribution {distribution!r} is deployed")
        return str(self._front_door.cloudfront.url_for(found.id))


class LocalCloud(_Cloud):
    """moto in-process with the local cloud's hooks: the pytest entry point.

    Pollers run only inside ``drain()`` unless ``background=True``, so a test decides when events
    are processed and every run sees the same order of batches.
    """

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        settings: Settings | None = None,
        front_door: bool = True,
        background: bool = False,
    ) -> None:
        super().__init__(account_id=account_id, region=region, settings=settings, front_door=front_door)
        self._background = background
        self._mock: Any = None
        self._moto_port: Any = None

    def start(self) -> LocalCloud:
        if self._started:
            return self
        from moto import mock_aws

        self.core = CloudCore(
            account_id=self.account_id, region=self.region, settings=self.settings, background=self._background
        )
        activate(self.core)
        try:
            self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
            self._mock.start()
            self.core.install()
            self._moto_port = serve_moto(host="127.0.0.1", wrap=self._guard)
            self.core.handler_env.update(
                {
                    "AWS_ENDPOINT_URL": self._moto_port.endpoint,
                    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                }
            )
            self._start_front_door()
        except BaseException:
            self.close()
            raise
        self._started = True
        return self

    def _guard(self, app: Any) -> Any:
        """The same checks as a server's port: loopback Host, no foreign Origin, the local credentials.

        A page in the developer's browser must not reach a test's backends either while they run.
        """
        from moto.moto_server import werkzeug_app

        from .guard import Guard

        werkzeug_app.DISABLE_GLOBAL_CORS = True
        return Guard(
            app,
            port=lambda: self._moto_port.port,
            secret=secrets.token_urlsafe(24),
            secret_paths=("/moto-api/",),
            credentials={ACCESS_KEY_ID: SECRET_ACCESS_KEY},
        )

    def close(self) -> None:
        self._stop_front_door()
        core = getattr(self, "core", None)
        if core is not None:
            core.uninstall()
            deactivate(core)
        if self._moto_port is not None:
            self._moto_port.stop()
            self._moto_port = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._started = False

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalCloudServer(_Cloud):
    """A moto server on 127.0.0.1 with the local cloud's hooks, pollers and front door.

    The CDK CLI (``cdk bootstrap`` / ``cdk deploy --method=direct``) and handlers reach it through
    ``endpoint`` (``localhost``, not 127.0.0.1: moto reads S3 bucket names from 127.0.0.1 hosts).
    Other processes fire schedules, drain and read the journal through the control plane on the
    same endpoint: ``patterns.local.control(server.endpoint)`` (see control_plane.py).

    Locked down (see guard.py): only this server's loopback Host names, no foreign Origin/Referer
    (``allowed_origins`` adds browser origins), AWS requests signed with ``env``'s credentials (the
    secret access key is new for every server), and the control plane and ``/moto-api/`` need
    ``secret``, which the server records for this user's processes (``server_record_path``) and in
    ``state_dir/server.json``. ``read_timeout`` (s) closes connections that stop sending or idle.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
        account_id: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        settings: Settings | None = None,
        front_door: bool = True,
        allowed_origins: Iterable[str] = (),
        read_timeout: float = 30.0,
    ) -> None:
        if settings is None:
            settings = Settings(journal_limit=10_000)
        super().__init__(account_id=account_id, region=region, settings=settings, front_door=front_door)
        self.port = port or _free_port()
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.allowed_origins = tuple(allowed_origins)
        self.read_timeout = read_timeout
        #: Needed (X-Local-Cloud-Secret) by the control plane and /moto-api/; new for every server.
        self.secret = secrets.token_urlsafe(24)
        self._secret_access_key = secrets.token_urlsafe(30)
        self._server: Any = None
        self._state_lock: Any = None
        self._record: Path | None = None
        self._saved_moto_port: str | None = None
        self._sfn_patcher: Any = None
        self._stopped = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def control_url(self) -> str:
        """Base URL of the HTTP control plane (fire schedules, drain, journal) for other processes;
        ``patterns.local.control(endpoint)`` is its client (see control_plane.py)."""
        return f"{self.endpoint}/_localcloud"

    @property
    def env(self) -> dict[str, str]:
        """Environment variables for a process (CDK CLI, AWS CLI, boto3) to use this cloud."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": self._secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # StartSyncExecution's "sync-" host prefix would make the endpoint's host unresolvable.
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }

    def secret_access_key(self, access_key_id: str) -> str | None:
        """The secret of an access key this cloud issued: its own, or one moto's IAM / STS handed out
        (the CDK CLI signs with the credentials of the bootstrap roles it assumes)."""
        if access_key_id == ACCESS_KEY_ID:
            return self._secret_access_key
        from moto.iam.models import iam_backends

        for account in list(iam_backends.values()):
            for backend in list(account.values()):  # the partitions moto has created
                key = backend.access_keys.get(access_key_id)
                if key is not None:
                    return str(key.secret_access_key)
        return None

    def _lock_state_dir(self) -> None:
        """One running server per state dir: an exclusive lock on ``server.lock`` while it runs."""
        import fcntl

        assert self.state_dir is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.state_dir / "server.lock", "a+")  # noqa: SIM115 - held until stop()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            owner = ""
            with contextlib.suppress(OSError, ValueError):
                owner = f" (pid {json.loads((self.state_dir / 'server.json').read_text())['pid']})"
            raise LocalCloudError(
                f"state dir {self.state_dir} is in use by another running local cloud server{owner}; "
                "give each server its own --state-dir"
            ) from None
        self._state_lock = handle

    def _sign_step_functions_calls(self) -> None:
        """moto's Step Functions interpreter calls back into this server with fixed "ak"/"sk"
        credentials, which the guard refuses: it gets this server's credentials instead."""
        import moto.stepfunctions.parser.asl.utils.boto_client as boto_client

        from .core.hooks import Patcher

        env = self.env

        class _Boto3:
            @staticmethod
            def client(**kwargs: Any) -> Any:
                import boto3

                kwargs.update(
                    aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"]
                )
                return boto3.client(**kwargs)

        self._sfn_patcher = Patcher()
        self._sfn_patcher.set(boto_client, "boto3", _Boto3)

    @staticmethod
    def _forget_default_boto3_session() -> None:
        """Handlers running in this process share boto3's default session, which caches the first
        credentials it resolved (another server's, or a test's): they must resolve this server's."""
        import boto3

        boto3.DEFAULT_SESSION = None

    def start(self) -> LocalCloudServer:
        if self._started:
            return self
        from .control_plane import make_server, server_record_path, write_private

        work_dir = None
        try:
            if self.state_dir is not None:
                self._lock_state_dir()
                work_dir = self.state_dir / "work"
            # Bound before anything else starts: a busy port fails here, at once.
            self._server = make_server(self, "127.0.0.1", self.port, read_timeout=self.read_timeout)
        except BaseException:
            self.stop()
            raise
        self.core = CloudCore(
            account_id=self.account_id,
            region=self.region,
            settings=self.settings,
            background=True,
            handler_env=self.env,
            work_dir=work_dir,
        )
        self.core.endpoint = self.endpoint
        self.core.credentials = self.env
        activate(self.core)
        # moto's Step Functions interpreter calls back into the server on MOTO_PORT.
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        self._forget_default_boto3_session()
        try:
            self.core.install()
            self._sign_step_functions_calls()
            self._server.start()
            self._start_front_door()
            record = {
                "endpoint": self.endpoint,
                "control": self.control_url,
                "front_door": self.front_door_url,
                "pid": os.getpid(),
                "secret": self.secret,
                "env": self.env,
            }
            self._record = server_record_path(self.port)
            write_private(self._record, record)
            if self.state_dir is not None:
                write_private(self.state_dir / "server.json", record)
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def _front_door_options(self) -> dict[str, Any]:
        return {"allowed_origins": self.allowed_origins, "read_timeout": self.read_timeout}

    def stop(self) -> None:
        self._stop_front_door()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._sfn_patcher is not None:
            self._sfn_patcher.restore()
            self._sfn_patcher = None
        core = getattr(self, "core", None)
        if core is not None:
            core.uninstall()
            deactivate(core)
        if self._saved_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_moto_port
        if self._record is not None:
            self._record.unlink(missing_ok=True)
            self._record = None
        if self._state_lock is not None:
            if self.state_dir is not None:
                (self.state_dir / "server.json").unlink(missing_ok=True)
            self._state_lock.close()
            self._state_lock = None
        self._started = False
        self._stopped.set()

    def __enter__(self) -> LocalCloudServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until stop() is called (from a signal handler, typically)."""
        while not self._stopped.wait(0.5):
            pass
