"""``python -m patterns.local serve``: run the local cloud as a server for the CDK CLI.

``fire``, ``drain`` and ``invocations`` drive a running server from another shell, through its
control plane (``--endpoint``, default ``$AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from types import FrameType

from .cloud import LocalCloudServer
from .control_plane import SECRET_ENV
from .delivery.engine import Settings
from .errors import LocalCloudError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns.local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the local cloud on 127.0.0.1 and block until SIGINT/SIGTERM")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    serve.add_argument(
        "--state-dir",
        default=None,
        help="folder for unpacked function code and server.json (endpoint and env of the running server); "
        "resources are not persisted across restarts",
    )
    serve.add_argument("--no-front-door", action="store_true", help="do not serve API Gateway APIs over HTTP")
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin (e.g. http://localhost:3000) allowed to call the server; repeatable "
        "(default: none besides the server's own: pages of other origins get 403)",
    )
    serve.add_argument(
        "--read-timeout",
        type=float,
        default=30.0,
        help="seconds a connection may stall or idle before it is closed (default: 30)",
    )
    serve.add_argument(
        "--layer-stand-in",
        action="append",
        default=[],
        metavar="ACCOUNT:layer:NAME",
        help="a published layer the venv stands in for (repeatable);",
    )
    fire = commands.add_parser("fire", help="fire a schedule (rule or Scheduler schedule) of a running server")
    fire.add_argument("schedule", help="name, logical id or construct path")
    drain = commands.add_parser("drain", help="wait until a running server is quiet")
    drain.add_argument("--timeout", type=float, default=30.0)
    journal = commands.add_parser("invocations", help="print a running server's invocations as JSON lines")
    journal.add_argument("function", nargs="?", help="only this function (name, logical id or construct path)")
    for command in (fire, drain, journal):
        command.add_argument("--endpoint", default=None, help="the server's endpoint (default: $AWS_ENDPOINT_URL)")
    args = parser.parse_args(argv)
    if args.command != "serve":
        return _control(args)

    server = LocalCloudServer(
        port=args.port,
        state_dir=args.state_dir,
        front_door=not args.no_front_door,
        settings=Settings(journal_limit=10_000, layer_stand_ins=tuple(args.layer_stand_in)),
        allowed_origins=args.allow_origin,
        read_timeout=args.read_timeout,
    )
    try:
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"port {server.port} is already in use: pick another --port (or 0 for a free one)", file=sys.stderr)
        else:
            print(f"the local cloud could not start: {exc}", file=sys.stderr)
        return 2
    except LocalCloudError as exc:
        print(exc, file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"local cloud listening on {server.endpoint}", flush=True)
    if server.front_door_error is None and server.front_door_url:
        print(f"API front door on {server.front_door_url}", flush=True)
    print(f"control plane on {server.control_url} (python -m patterns.local fire|drain|invocations)", flush=True)
    print("use it with (the secret guards the control plane and /moto-api/):", flush=True)
    for key, value in {**server.env, SECRET_ENV: server.secret}.items():
        print(f"export {key}={value}", flush=True)
    server.wait()
    return 0


def _control(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from .control_plane import control

    try:
        client = control(args.endpoint)
        if args.command == "fire":
            client.fire_schedule(args.schedule)
        elif args.command == "drain":
            client.drain(timeout=args.timeout)
        else:
            for invocation in client.invocations(args.function):
                print(json.dumps(dataclasses.asdict(invocation), default=str), flush=True)
    except LocalCloudError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
