"""CATALOG 8 — Command: one router function receives ``{command, version, payload}`` and invokes the
handler function registered for that command and version.

Clients speak one contract and name the version they were built for, so a new version of a command
ships as a new function beside the old one instead of a breaking change. The routing table is fixed
at synth time and handed to the router as JSON; the router may invoke exactly those functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from patterns import core
from patterns.catalog import PatternInfo

CATALOG_ENTRY = PatternInfo(
    number=8,
    name="Command",
    construct="Command",
    module="patterns.command",
    demo_stack="CommandDemo",
    handlers=("command",),
    family="Messaging and integration",
    summary="a router function invokes the handler function registered for each command and version",
)

#: Environment variable holding the routing table: ``{"<command>": {"<version>": "<function ARN>"}}``.
ROUTES_ENV = "ROUTES"
#: Extra router time on top of the longest handler timeout, for the invoke round trip.
ROUTER_MARGIN = Duration.seconds(5)
_COMMAND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


@dataclass(frozen=True, kw_only=True)
class CommandHandler:
    """The function that handles one version of one command: a new one or an existing one.

    Defaults: a new function from the pattern's handler code (``handler_code`` of ``Command``) running
    ``handler``, with the pattern's function timeout. ``existing_function`` excludes the other fields.
    """

    handler: str | None = None
    handler_code: lambda_.Code | None = None
    timeout: Duration | None = None
    description: str = ""
    existing_function: lambda_.IFunction | None = None


Route = CommandHandler | lambda_.IFunction


def _construct_name(command: str) -> str:
    """``create-order`` -> ``CreateOrder``: a stable construct id fragment."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", command) if part)


def _spec(command: str, version: int, route: Route) -> CommandHandler:
    if not isinstance(route, CommandHandler):
        if not hasattr(route, "function_arn"):
            raise ValueError(
                f"commands[{command!r}][{version}] must be a CommandHandler or an IFunction "
                f"(given {type(route).__name__})"
            )
        return CommandHandler(existing_function=route)
    if route.existing_function is not None:
        given = [name for name in ("handler", "handler_code", "timeout") if getattr(route, name) is not None]
        if given:
            raise ValueError(
                f"commands[{command!r}][{version}]: existing_function and {', '.join(given)} cannot both be set: "
                "pass an existing function or a handler spec for a new one, not both"
            )
    elif not route.handler:
        raise ValueError(
            f"commands[{command!r}][{version}] needs a handler (e.g. 'orders.create_order_v1') or an existing_function"
        )
    return route


def _validate_routes(commands: Mapping[str, Mapping[int, Route]]) -> None:
    if not commands:
        raise ValueError("commands must map at least one command to its versions, e.g. {'create-order': {1: ...}}")
    seen: dict[str, str] = {}
    for command, versions in commands.items():
        if not isinstance(command, str) or not _COMMAND_NAME.match(command):
            raise ValueError(
                f"command names must be 1-64 letters, digits, '.', '_', ':' or '-' starting with a letter or digit "
                f"(given {command!r})"
            )
        name = _construct_name(command)
        if name in seen:
            raise ValueError(
                f"commands {seen[name]!r} and {command!r} would share the construct id {name!r}: rename one"
            )
        seen[name] = command
        if not versions:
            raise ValueError(
                f"command {command!r} maps no versions: give at least one, e.g. {{1: CommandHandler(...)}}"
            )
        for version in versions:
            if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 10000:
                raise ValueError(
                    f"versions of command {command!r} must be whole numbers from 1 to 10000 (given {version!r})"
                )


class Command(Construct):
    """A command router in front of versioned handler functions.

    :param commands: command name → version number → ``CommandHandler`` (or an existing ``IFunction``,
        shorthand for ``CommandHandler(existing_function=...)``). At least one command with one version.
    :param handler_code: the code of handlers whose ``CommandHandler`` gives none. Default: the
        pattern's ``lambdas/command`` folder (handlers ``orders.create_order_v1`` ...).
    :param router_code: the router's code. Default: the pattern's ``lambdas/command`` folder.
    :param router_handler: the router's entry point. Default: ``router.handler``.
    :param router_timeout: how long the router may wait for a handler. Default: the longest timeout of
        the handlers this pattern knows plus 5 seconds; it must exceed every known handler timeout.
    :param function_options: memory, timeout, log retention... of the router and the new handlers.
        Default: core defaults.
    :param alarm_options: thresholds, alarm topic, dashboard. Default: core defaults.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        commands: Mapping[str, Mapping[int, Route]],
        handler_code: lambda_.Code | None = None,
        router_code: lambda_.Code | None = None,
        router_handler: str = "router.handler",
        router_timeout: Duration | None = None,
        function_options: core.FunctionOptions | None = None,
        alarm_options: core.AlarmOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate_routes(commands)
        specs = {
            command: {version: _spec(command, version, route) for version, route in sorted(versions.items())}
            for command, versions in commands.items()
        }
        opts = function_options or core.FunctionOptions()
        pattern_code = core.handler_code("command")

        self.handlers: dict[str, dict[int, lambda_.IFunction]] = {}
        created: dict[str, lambda_.Function] = {}
        known_timeouts: list[tuple[str, Duration]] = []
        for command, versions in specs.items():
            self.handlers[command] = {}
            for version, spec in versions.items():
                label = f"{command} v{version}"
                if spec.existing_function is not None:
                    function: lambda_.IFunction = spec.existing_function
                    timeout = getattr(function, "timeout", None)
                else:
                    assert spec.handler is not None
                    name = f"{_construct_name(command)}V{version}"
                    function = created[name] = core.python_function(
                        self, f"{name}Handler",
                        code=spec.handler_code or handler_code or pattern_code,
                        handler=spec.handler,
                        service=command,
                        invocation="sync",
                        description=spec.description or f"command {label}: {spec.handler}",
                        options=opts,
                        timeout=spec.timeout,
                        environment={"COMMAND_NAME": command, "COMMAND_VERSION": str(version)},
                    )
                    timeout = spec.timeout or opts.timeout
                if isinstance(timeout, Duration):
                    known_timeouts.append((label, timeout))
                self.handlers[command][version] = function

        self.router_timeout = self._router_timeout(router_timeout, known_timeouts, opts.timeout)
        routes = {
            command: {str(version): fn.function_arn for version, fn in versions.items()}
            for command, versions in self.handlers.items()
        }
        self.router: lambda_.Function = core.python_function(
            self, "Router",
            code=router_code or pattern_code,
            handler=router_handler,
            service="command-router",
            invocation="sync",
            description="routes {command, version, payload} to the handler function of that command version",
            options=opts,
            timeout=self.router_timeout,
            environment={
                ROUTES_ENV: Stack.of(self).to_json_string(routes),
                "INVOKE_TIMEOUT_SECONDS": str(int(self.router_timeout.to_seconds())),
            },
        )
        # Least privilege: the router may invoke exactly the routed functions (no version/alias wildcard).
        self.router.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=sorted({fn.function_arn for versions in self.handlers.values() for fn in versions.values()}),
            )
        )
        self.alarms = core.PatternAlarms(
            self, "Alarms", options=alarm_options, functions={"Router": self.router, **created}
        ).alarms

    @staticmethod
    def _router_timeout(given: Duration | None, known: list[tuple[str, Duration]], default: Duration) -> Duration:
        resolved = [(label, t.to_seconds()) for label, t in known if not Token.is_unresolved(t.to_seconds())]
        longest = max([seconds for _, seconds in resolved], default=default.to_seconds())
        if given is None:
            return Duration.seconds(min(longest + ROUTER_MARGIN.to_seconds(), 900))
        seconds = given.to_seconds()
        if not Token.is_unresolved(seconds):
            for label, handler_seconds in resolved:
                if seconds <= handler_seconds:
                    raise ValueError(
                        f"router_timeout ({seconds:g} s) must exceed the timeout of handler {label} "
                        f"({handler_seconds:g} s), or the router gives up before its handler answers"
                    )
        return given

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to send commands (invoke the router)."""
        return self.router.grant_invoke(grantee)

    def handler(self, command: str, version: int) -> lambda_.IFunction:
        """The function handling ``version`` of ``command``."""
        try:
            return self.handlers[command][version]
        except KeyError:
            raise KeyError(f"no handler for {command!r} v{version} (commands: {sorted(self.handlers)})") from None
