"""The ``atende`` command: serve, project, manage views and tokens, make a secret key."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from infrastructure.views.registry import VIEWS
from interface.cli.audit import add_audit_commands
from interface.cli.kb import add_kb_commands
from interface.cli.keys import add_key_commands
from interface.cli.tokens import add_token_commands

if TYPE_CHECKING:
    from infrastructure.heartbeat import Heartbeat

GUNICORN_APP = "interface.wiring:get_app()"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atende", description="Atende ticketing backend")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API under gunicorn")
    serve.add_argument("--bind", default=os.environ.get("ATENDE_BIND", "127.0.0.1:8000"))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("ATENDE_WORKERS", "2")))
    serve.add_argument(
        "--no-projector",
        action="store_true",
        help="do not start the projector (run `atende project` once per deployment instead)",
    )
    serve.set_defaults(run=_serve)

    project = commands.add_parser("project", help="keep every view up to date until stopped")
    project.set_defaults(run=_project)

    projections = commands.add_parser("projections", help="inspect and rebuild views")
    view_commands = projections.add_subparsers(required=True, metavar="ACTION")
    view_commands.add_parser("status", help="each view's position and lag").set_defaults(
        run=_projections_status
    )
    rebuild = view_commands.add_parser("rebuild", help="rebuild views from the log")
    which = rebuild.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", choices=sorted(VIEWS), help="the view to rebuild")
    which.add_argument("--all", action="store_true", help="rebuild every view")
    rebuild.set_defaults(run=_rebuild)

    add_token_commands(commands)
    add_audit_commands(commands)
    add_key_commands(commands)
    add_kb_commands(commands)

    secret = commands.add_parser("secret", help="print a new ATENDE_SECRET_KEY value")
    secret.set_defaults(run=_print_secret)
    return parser


def _settings_refused() -> str | None:
    """What is wrong with the environment's settings (None: nothing): checked before a
    server or projector starts, so a typo is one line and exit 2, not a traceback or a
    projector that retries a bad URL for ever."""
    from infrastructure.settings import Settings

    try:
        Settings.from_env().system_texts()
    except ValueError as error:
        return str(error)
    return None


def _serve(args: argparse.Namespace) -> int:
    from interface.wiring import bootstrap

    if refused := _settings_refused():
        print(f"atende: {refused}", file=sys.stderr)
        return 2
    # Create the schema once here, so workers starting together find it ready.
    bootstrap().close()
    if args.no_projector:
        os.environ["ATENDE_PROJECTOR"] = "off"
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    argv = [
        gunicorn,
        "--config",
        "python:interface.http.server.gunicorn_conf",
        "--bind",
        args.bind,
        "--workers",
        str(args.workers),
        GUNICORN_APP,
    ]
    os.execv(gunicorn, argv)
    return 0  # not reached: execv replaces this process


def _project(args: argparse.Namespace) -> int:
    from infrastructure.heap import freeze_startup_heap
    from interface.cli.projector_process import stop_when_orphaned
    from interface.http.server.json_logs import JsonFormatter, log_app_as_json
    from interface.wiring import bootstrap, run_projector

    if refused := _settings_refused():
        print(f"atende: {refused}", file=sys.stderr)
        return 2
    # Its lines share the server's log, where every line is JSON.
    log_app_as_json(JsonFormatter())
    atende = bootstrap()
    freeze_startup_heap()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop_when_orphaned(stop.set)
    try:
        run_projector(atende, stop)
    finally:
        atende.close()
    return 0


def _projections_status(args: argparse.Namespace) -> int:
    from infrastructure.view_status import ViewStatus
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        print(f"{'view':<12} {'position':>10} {'head':>10} {'lag':>8}  failing")
        for row in ViewStatus(atende.tickets, atende.followed, atende.view_failures).rows():
            print(
                f"{row['view']:<12} {row['position']:>10} {row['head']:>10} {row['lag']:>8}  "
                + _failing(row["failing"])
            )
        print(f"\nprojector heartbeat: {_heartbeat(atende.heartbeats.newest())}")
    finally:
        atende.close()
    return 0


def _heartbeat(newest: Heartbeat | None) -> str:
    # A view with lag 0 says nothing about a projector that died; its beat does.
    if newest is None:
        return "none (no projector is running)"
    return (
        f"{newest.age(datetime.now(UTC)):.1f} s ago (host {newest.host}, pid {newest.pid}, "
        f"started {newest.started_at.isoformat(timespec='seconds')})"
    )


def _failing(failure: dict | None) -> str:
    if failure is None:
        return "-"
    return (
        f"at position {failure['position']}: {failure['error']}, {failure['attempts']} "
        f"attempts since {failure['first_seen']} (last {failure['last_seen']})"
    )


def _rebuild(args: argparse.Namespace) -> int:
    from infrastructure.rebuild import rebuild
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        for name in sorted(VIEWS) if args.all else [args.name]:
            rebuild(atende, name)
    finally:
        atende.close()
    return 0


def _print_secret(args: argparse.Namespace) -> int:
    from infrastructure.settings import new_secret_key

    print(new_secret_key())
    return 0


if __name__ == "__main__":
    sys.exit(main())
