"""Every response that serves personal data leaves one row in the access log (issue 16).

A responder declares what it serves with ``@logs_read(reading)``; ``reading`` looks at
the request, the finished response and the route's parameters and names what was served:
one ticket, or how many items and which tickets. The row is written after the responder
and before Falcon sends anything: if it cannot be written the request fails (a 5xx
replaces the body), so no personal data leaves unlogged. Responses to writes are not
logged here: the write itself is an event that names its actor.

A resource with such a responder holds ``access_log``, where the rows go (``RecordsReads``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import falcon

from domain.actor import Actor
from interface.http.middleware.auth import sees_personal_data

# The customer's survey page has no bearer token: whoever holds the link reads it.
LINK_HOLDER = Actor(id="survey-link", name="holder of a survey link", role="public")
# Paging and consistency parameters say nothing about what was looked for.
_PAGING = frozenset({"limit", "cursor", "after_position"})


@dataclass(frozen=True)
class Served:
    """What one response carried: ``what`` it was, and the ticket or the tickets."""

    what: str
    ticket_id: UUID | None = None
    ticket_ids: Sequence[str] = ()
    count: int | None = None
    detail: str = ""


Reading = Callable[[falcon.Request, falcon.Response, dict[str, Any]], Served | None]


class RecordsReads(Protocol):
    """Where the rows go: infrastructure/access_log.py's AccessLog."""

    def record(
        self,
        actor: Actor,
        route: str,
        what: str,
        *,
        ticket_id: UUID | None = None,
        ticket_ids: Sequence[str] = (),
        count: int | None = None,
        detail: str = "",
    ) -> None: ...


def logs_read(reading: Reading) -> Callable[..., Any]:
    """Declares that a GET responder serves personal data; ``reading`` says which
    (None: this response carried none, e.g. the analyst's queue)."""

    def decorate(responder: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(responder)
        def logged(resource: Any, req: falcon.Request, resp: falcon.Response, **params: Any):
            responder(resource, req, resp, **params)
            served = reading(req, resp, params)
            if served is not None:
                access_log: RecordsReads = resource.access_log
                access_log.record(
                    getattr(req.context, "actor", None) or LINK_HOLDER,
                    req.uri_template,
                    served.what,
                    ticket_id=served.ticket_id,
                    ticket_ids=served.ticket_ids,
                    count=served.count,
                    detail=served.detail,
                )

        return logged

    return decorate


# The readings of the routes that serve personal data.


def one_ticket(what: str) -> Reading:
    """A read of the ticket named in the path."""
    return lambda req, resp, params: Served(what, ticket_id=params["ticket_id"])


def ticket_or_as_of(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    as_of = resp.media.get("as_of")
    if as_of is None:
        return Served("ticket", ticket_id=params["ticket_id"])
    return Served("as_of", ticket_id=params["ticket_id"], detail=as_of)


def history(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    return Served("history", ticket_id=params["ticket_id"], detail=_window(req))


def ticket_list(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    """A page of tickets, and which parameters chose it (names only: a search text or
    an address is itself personal)."""
    ids = [item["id"] for item in resp.media["items"]]
    asked = sorted(set(req.params) - _PAGING)
    detail = f"query: {' '.join(asked)}" if asked else ""
    return Served("list", ticket_ids=ids, count=len(ids), detail=detail)


def queue(req: falcon.Request, resp: falcon.Response, params: dict) -> Served | None:
    if not sees_personal_data(req.context.actor):
        return None
    return ticket_list(req, resp, params)


def event_feed(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    """The feed's positions name exactly which events were served."""
    events = resp.media["events"]
    ids = [str(e["ticket_id"]) for e in events if e.get("ticket_id")]
    after = req.get_param_as_int("after", default=0)
    detail = f"after={after} next_after={resp.media['next_after']}"
    return Served("feed", ticket_ids=ids, count=len(events), detail=detail)


def export(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    ticket = req.get_param("ticket")
    if ticket is not None:
        return Served("export", ticket_id=UUID(ticket))
    return Served("export", detail=_window(req))


def survey_page(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    """The ticket's subject and the comment, shown to whoever holds the link."""
    return Served("survey", ticket_id=req.context.survey_ticket_id)


def _window(req: falcon.Request) -> str:
    bounds = ((name, req.get_param(name)) for name in ("from", "to"))
    return " ".join(f"{name}={value}" for name, value in bounds if value)
