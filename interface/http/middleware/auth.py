"""Bearer-token authentication (middleware) and per-route role checks (hooks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from application.tokens import ApiTokens
from domain.actor import Actor
from interface.http.errors import Problem

# Who may do what (DESIGN.md, Roles). Admin is everywhere.
TICKET_WRITERS = ("admin", "agent", "integrator")
TICKET_READERS = ("admin", "agent", "integrator", "auditor")
FEED_READERS = ("admin", "integrator", "auditor")
AGENT_ADMINS = ("admin", "integrator")  # an HR or workforce system may keep agents in sync
AVAILABILITY_SETTERS = ("admin", "agent", "integrator")
AGENT_READERS = ("admin", "agent", "integrator", "auditor", "analyst")
INTAKE_WRITERS = ("admin", "integrator")
# Who may see customers' personal data (names, subjects, messages...): not the analyst,
# who reads reports and views without it (issue 16).
PERSONAL_DATA_READERS = ("admin", "agent", "integrator", "auditor")


class Authentication:
    """Resolves ``Authorization: Bearer <token>`` to the principal in req.context.actor.

    Resources that set ``public = True`` (health, docs) skip it.
    """

    def __init__(self, tokens: ApiTokens):
        self.tokens = tokens

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: Any
    ) -> None:
        if getattr(resource, "public", False):
            return
        scheme, _, token = (req.auth or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Send Authorization: Bearer <token>.")
        actor = self.tokens.authenticate(token.strip())
        if actor is None:
            raise unauthorized("The token is unknown, revoked or expired.")
        req.context.actor = actor


def allow(*roles: str) -> Callable[..., None]:
    """A before-hook that lets only the given roles (and admin) through."""
    allowed = set(roles) | {"admin"}

    def check(req: falcon.Request, resp: falcon.Response, resource: Any, params: Any) -> None:
        actor: Actor = req.context.actor
        if actor.role not in allowed:
            raise Problem(
                falcon.HTTP_403,
                "forbidden",
                "Forbidden",
                f"The {actor.role} role may not {req.method} {req.uri_template}.",
            )

    return check


def sees_personal_data(actor: Actor) -> bool:
    return actor.role in PERSONAL_DATA_READERS


def unauthorized(detail: str) -> Problem:
    """401 with the challenge that says how to authenticate (also used by /metrics)."""
    return Problem(
        falcon.HTTP_401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="atende"'},
    )
