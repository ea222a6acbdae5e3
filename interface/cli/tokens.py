"""``atende tokens create|list|revoke|rotate``: API tokens' lifecycle (issue 20).

Each command is an event in the log, recorded as done by the system (the operator at the
console holds the deployment's secret key, which is more than any token grants).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from application.errors import AgentNotFound, InvalidToken, TokenNotFound
from application.tokens import DEFAULT_ROTATION_GRACE
from domain.actor import ROLES
from domain.agent import AgentInactive
from domain.api_token import TokenExpired, TokenRevoked
from interface.http.schemas.tokens import NEVER, TokenOut, expiry_in, grace_of

NEVER_WORDS = ("never", "none", "off")
# What the commands refuse with a message (exit 2) rather than a traceback.
REFUSALS = (InvalidToken, TokenNotFound, AgentNotFound, AgentInactive, TokenRevoked, TokenExpired)


def add_token_commands(commands: Any) -> None:
    tokens = commands.add_parser("tokens", help="manage API tokens")
    actions = tokens.add_subparsers(required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a token and print it (shown only once)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", required=True)
    create.add_argument("--agent", metavar="ID", help="the registered agent an agent token acts as")
    create.add_argument(
        "--on-behalf",
        action="store_true",
        help="an integrator token that may name an agent as a message's author (a chat "
        "platform relaying agents' replies)",
    )
    create.add_argument(
        "--expires-in",
        metavar="DURATION",
        help="e.g. 90d, 12h, 30m; 'never' for none (default: ATENDE_TOKEN_DEFAULT_EXPIRY, "
        "unset: never)",
    )
    create.set_defaults(run=_create)

    listing = actions.add_parser("list", help="every token: id, name, role, agent, dates, status")
    listing.set_defaults(run=_list)

    revoke = actions.add_parser("revoke", help="stop a token for good (within a second)")
    revoke.add_argument("id")
    revoke.set_defaults(run=_revoke)

    rotate = actions.add_parser("rotate", help="give a token a new secret and print it")
    rotate.add_argument("id")
    rotate.add_argument(
        "--grace",
        metavar="DURATION",
        default=None,
        help="how long the old secret keeps working, e.g. 1h, 10m; 0 for not at all "
        f"(default {int(DEFAULT_ROTATION_GRACE.total_seconds() // 60)} minutes)",
    )
    rotate.set_defaults(run=_rotate)


def _read(convert: Callable[[str], Any], text: str, option: str) -> Any:
    """An option's text read as the HTTP body's field is (interface/http/schemas/tokens.py)."""
    try:
        return convert(text.strip())
    except ValueError as error:
        raise InvalidToken(option, str(error)) from None


def _with_tokens(work: Callable[[Any], int]) -> int:
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        return work(atende.tokens)
    except REFUSALS as error:
        print(f"atende tokens: {error}", file=sys.stderr)
        return 2
    finally:
        atende.close()


def _create(args: argparse.Namespace) -> int:
    def work(tokens: Any) -> int:
        text = (args.expires_in or "").strip().lower()
        text = NEVER if text in NEVER_WORDS else text
        issued = tokens.create(
            role=args.role,
            name=args.name,
            agent_id=args.agent,
            on_behalf=args.on_behalf,
            expires_in=_read(expiry_in, text, "--expires-in") if text else None,
            never_expires=text == NEVER,
        )
        expiry = issued.record.expires_at
        until = f", expires {expiry.isoformat()}" if expiry else ""
        print(
            f"Created {args.role} token {args.name!r} (id {issued.actor.id}{until}). "
            "It is shown only once:"
        )
        print(issued.token)
        return 0

    return _with_tokens(work)


def _list(args: argparse.Namespace) -> int:
    def work(tokens: Any) -> int:
        columns = ("id", "name", "role", "agent_id", "on_behalf", "created_at", "expires_at",
                   "last_used_at", "revoked_at", "status")  # fmt: skip
        print("\t".join(columns))
        for record in tokens.list():
            row = TokenOut().dump(record)
            if record.legacy:
                row["status"] += " (legacy: unbound, no expiry)"
            print("\t".join("-" if row[c] is None else str(row[c]) for c in columns))
        return 0

    return _with_tokens(work)


def _revoke(args: argparse.Namespace) -> int:
    def work(tokens: Any) -> int:
        record, changed = tokens.revoke(args.id)
        print(f"token {record.id} {'revoked' if changed else 'was already revoked'}")
        return 0

    return _with_tokens(work)


def _rotate(args: argparse.Namespace) -> int:
    def work(tokens: Any) -> int:
        if args.grace is None:
            issued = tokens.rotate(args.id)
        else:
            issued = tokens.rotate(args.id, grace=_read(grace_of, args.grace, "--grace"))
        print(f"Rotated token {issued.actor.id}. The new secret is shown only once:")
        print(issued.token)
        return 0

    return _with_tokens(work)
