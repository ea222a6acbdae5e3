"""How a ticket leaves over HTTP: body, status, ETag and Location."""

from __future__ import annotations

from typing import Any

import falcon

from application.tickets import CommandResult
from interface.http.schemas.tickets import TicketOut

_TICKET_OUT = TicketOut()


def ticket_document(result: CommandResult) -> dict[str, Any]:
    ticket = result.ticket
    return _TICKET_OUT.dump(
        {
            **vars(ticket),
            "id": ticket.id,
            "number": result.number,
            "version": ticket.version,
            "position": result.position,
            "created_at": ticket.created_on,
            "updated_at": ticket.modified_on,
        }
    )


def render_ticket(resp: falcon.Response, result: CommandResult, status: int = 200) -> None:
    resp.status = status
    resp.media = ticket_document(result)
    # The version of the last change a person or integrator made: the router's and the
    # SLA clock's own events leave it alone (Clarification 7).
    resp.etag = str(result.ticket.etag_version)
    if status == 201:
        resp.location = f"/v1/tickets/{result.ticket.id}"


# A queue item's personal fields: the analyst's items leave them out (issue 16). Left
# out rather than null, so no client mistakes "not shown to you" for "empty".
QUEUE_PERSONAL_FIELDS = frozenset({"subject", "requester_name"})


def impersonal_queue_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in QUEUE_PERSONAL_FIELDS}
