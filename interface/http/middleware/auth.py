"""Bearer-token authentication (middleware) and per-route role checks (hooks)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import falcon
from prometheus_client import Counter

from application.tokens import ApiTokens
from domain.actor import Actor
from infrastructure.settings import Rate
from interface.http.errors import Problem, validation_problem
from interface.http.middleware.rate_limit import RateLimiter

# Who may do what (DESIGN.md, Roles). Admin is everywhere.
TICKET_WRITERS = ("admin", "supervisor", "agent", "integrator")
TICKET_READERS = ("admin", "supervisor", "agent", "integrator", "auditor")
FEED_READERS = ("admin", "integrator", "auditor")
# Supervisors manage the team; an HR or workforce system may keep agents in sync.
AGENT_ADMINS = ("admin", "supervisor", "integrator")
AVAILABILITY_SETTERS = ("admin", "supervisor", "agent", "integrator")
AGENT_READERS = ("admin", "supervisor", "agent", "integrator", "auditor", "analyst")
INTAKE_WRITERS = ("admin", "integrator")
# Who may see customers' personal data (names, subjects, messages...): not the analyst,
# who reads reports and views without it (issue 16).
PERSONAL_DATA_READERS = ("admin", "supervisor", "agent", "integrator", "auditor")


AUTH_FAILURES = Counter(
    "atende_auth_failures",
    "Requests refused for their credentials: missing, malformed, invalid (unknown, revoked "
    "or expired), or throttled (the client address failed too often).",
    ["reason"],
)


class Authentication:
    """Resolves ``Authorization: Bearer <token>`` to the principal in req.context.actor.

    Resources that set ``public = True`` (health, docs) skip it; those that also set
    ``own_credentials = True`` (/metrics, which takes a scrape token too) check their own
    credentials but are throttled like the rest.

    Guessing tokens is throttled per client address (issue 20): every 401 answered to a
    request that carried credentials spends one of ``failures``' budget, and an address
    that has spent it gets 429 for every credential it sends, right or wrong, until the
    budget refills (otherwise the guess that hits would still get through). A request
    with no Authorization at all spends nothing: it guesses nothing. The budget is per
    worker, like the request budgets (middleware/rate_limit.py).
    """

    def __init__(self, tokens: ApiTokens, failures: Rate | None = None):
        self.tokens = tokens
        self.failures = RateLimiter(failures) if failures else None

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: Any
    ) -> None:
        own = getattr(resource, "own_credentials", False)
        if getattr(resource, "public", False) and not own:
            return
        if not req.auth:
            if own:
                return
            AUTH_FAILURES.labels("missing").inc()
            raise unauthorized("Send Authorization: Bearer <token>.")
        self._refuse_if_throttled(req)
        if own:
            return
        scheme, _, token = req.auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            req.context.auth_failure = "malformed"
            raise unauthorized("Send Authorization: Bearer <token>.")
        actor = self.tokens.authenticate(token.strip())
        if actor is None:
            raise unauthorized("The token is unknown, revoked or expired.")
        req.context.actor = actor

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        if resp.status_code != 401 or not req.auth:
            return
        AUTH_FAILURES.labels(getattr(req.context, "auth_failure", "invalid")).inc()
        if self.failures is not None:
            self.failures.take(_address(req))

    def _refuse_if_throttled(self, req: falcon.Request) -> None:
        if self.failures is None:
            return
        left = self.failures.peek(_address(req))
        if left.allowed:
            return
        AUTH_FAILURES.labels("throttled").inc()
        rate = self.failures.rate
        raise Problem(
            falcon.HTTP_429,
            "too-many-auth-failures",
            "Too many failed authentications",
            f"This address sent {rate.requests} refused credentials within "
            f"{int(rate.per.total_seconds())} s; retry after the Retry-After delay.",
            headers={"Retry-After": str(max(1, math.ceil(left.retry_after)))},
        )


def _address(req: falcon.Request) -> str:
    return f"address:{req.remote_addr}"


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


ME = "me"  # ?assignee=me: the agent the token acts as


def own_agent(actor: Actor, field: str) -> str:
    """The agent an agent-bound token acts as, for a ``field`` that said "me"; 422 naming
    the field when the token is bound to no agent."""
    if actor.agent_id is None:
        message = "'me' needs a token bound to an agent (atende tokens create --agent ID)."
        raise validation_problem({field: [message]})
    return actor.agent_id


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
