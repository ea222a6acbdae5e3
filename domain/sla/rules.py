"""Which ticket events start, pause, resume and fulfil which SLA timers.

- first response: from the ticket's opening (for a ticket an agent opened, from the
  first customer message) to the first public agent message;
- next response: from the oldest unanswered customer message to the next public agent
  message, once first response is fulfilled;
- resolution: from opening to resolved, running on after a reopen.
Internal notes never count. Pending (and on_hold, when the policy says so) pauses next
response and resolution. Resolving fulfils the response timers too: the resolution is
the answer the customer gets. Closing stops whatever still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from domain.actor import Actor
from domain.sla.policy import TicketTraits
from domain.sla.timers import AppliedPolicy, HoursOf, TicketSla
from domain.ticket import Ticket

ChoosePolicy = Callable[[TicketTraits], AppliedPolicy | None]
PAUSABLE = ("next_response", "resolution")
RETARGETING = (Ticket.PriorityChanged, Ticket.CategoryChanged, Ticket.TagsChanged)


def follow_ticket(
    sla: TicketSla,
    ticket: Ticket,
    events: Iterable[Any],
    choose: ChoosePolicy,
    hours_of: HoursOf,
    actor: Actor,
) -> None:
    """Bring the ticket's timers up to date with the events its command recorded."""
    for ticket_event in events:
        _follow(sla, ticket, ticket_event, choose, hours_of, actor)


def _follow(
    sla: TicketSla,
    ticket: Ticket,
    e: Any,
    choose: ChoosePolicy,
    hours_of: HoursOf,
    actor: Actor,
) -> None:
    at = e.timestamp
    if isinstance(e, Ticket.Opened):
        sla.apply_policy(choose(TicketTraits.of(ticket)), at, actor, hours_of)
        if e.actor.role != "agent":
            sla.start("first_response", at, actor, hours_of)
        sla.start("resolution", at, actor, hours_of)
    elif isinstance(e, Ticket.MessageAdded) and e.visibility == "public":
        if e.author_type == "agent":
            sla.fulfil("first_response", at, actor, hours_of)
            sla.fulfil("next_response", at, actor, hours_of)
        else:
            _customer_wrote(sla, at, actor, hours_of)
    elif isinstance(e, Ticket.StatusChanged):
        if _pauses(e.status, sla):
            sla.pause(PAUSABLE, at, actor, hours_of)
        else:
            sla.resume(PAUSABLE, at, actor, hours_of)
    elif isinstance(e, RETARGETING):
        sla.apply_policy(choose(TicketTraits.of(ticket)), at, actor, hours_of)
    elif isinstance(e, Ticket.Resolved):
        for metric in ("first_response", "next_response", "resolution"):
            sla.fulfil(metric, at, actor, hours_of)
    elif isinstance(e, Ticket.Reopened):
        sla.reopen_resolution(at, actor, hours_of)
    elif isinstance(e, Ticket.Closed):
        sla.stop_all(at, actor, hours_of)


def _customer_wrote(sla: TicketSla, at: Any, actor: Actor, hours_of: HoursOf) -> None:
    first = sla.timer("first_response")
    if first is None:
        # An agent opened the ticket: the clock starts when the customer writes.
        sla.start("first_response", at, actor, hours_of)
    elif first["state"] == "fulfilled":
        # A no-op while a next-response timer is live: it runs from the oldest
        # unanswered message.
        sla.start("next_response", at, actor, hours_of)


def _pauses(status: str, sla: TicketSla) -> bool:
    return status == "pending" or (status == "on_hold" and sla.pause_on_hold)
