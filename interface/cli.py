"""The ``atende`` command: serve, manage tokens, make a secret key."""

from __future__ import annotations

import argparse
import os
import sys

from domain.actor import ROLES

GUNICORN_APP = "interface.http.app:get_app()"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atende", description="Atende ticketing backend")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API under gunicorn")
    serve.add_argument("--bind", default=os.environ.get("ATENDE_BIND", "127.0.0.1:8000"))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("ATENDE_WORKERS", "2")))
    serve.set_defaults(run=_serve)

    tokens = commands.add_parser("tokens", help="manage API tokens")
    token_commands = tokens.add_subparsers(required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="create a token and print it")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", required=True)
    create.set_defaults(run=_create_token)

    secret = commands.add_parser("secret", help="print a new ATENDE_SECRET_KEY value")
    secret.set_defaults(run=_print_secret)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    # Create the schema once here, so workers starting together find it ready.
    bootstrap().close()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    argv = [
        gunicorn,
        "--config",
        "python:interface.http.gunicorn_conf",
        "--bind",
        args.bind,
        "--workers",
        str(args.workers),
        GUNICORN_APP,
    ]
    os.execv(gunicorn, argv)
    return 0  # not reached: execv replaces this process


def _create_token(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    atende = bootstrap()
    try:
        issued = atende.tokens.create(role=args.role, name=args.name)
    finally:
        atende.close()
    print(f"Created {args.role} token {args.name!r} (id {issued.actor.id}). It is shown only once:")
    print(issued.token)
    return 0


def _print_secret(args: argparse.Namespace) -> int:
    from infrastructure.settings import new_secret_key

    print(new_secret_key())
    return 0


if __name__ == "__main__":
    sys.exit(main())
