"""Email to send (issue 22): an agent's public reply on a ticket whose channel is email,
a reminder to a customer who left a ticket pending, and the notice that a resolved
ticket closed by itself. Each is a delivery of the outbox the webhooks use
(infrastructure/outbound/webhook_view.py), under a destination of its own, written with
the position reached in one transaction, so each email is queued exactly once; the
email dispatcher (infrastructure/outbound/email_dispatch.py) sends them.

Turning SMTP on does not send the past: the follower starts at the log's head the first
time it runs (interface/wiring.py)."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, uuid5

from domain.survey import Survey
from domain.ticket import Ticket
from projections.base import RowProjection
from projections.webhooks import (
    Change,
    Delivery,
    WebhookDeliveryView,
    delivery_id,
    topic_names,
)

EMAIL_DESTINATION = str(uuid5(NAMESPACE_URL, "/outbound/email"))
REPLY, REMINDER, CLOSE_NOTICE = "ticket.message_added", "ticket.customer_reminded", "ticket.closed"
INVITATION = "survey.issued"


def email_kind(domain_event: Any, invitations: bool = True) -> str | None:
    """Which email an event asks for, if any (survey invitations only with a public
    address for their link: ``invitations``)."""
    if isinstance(domain_event, Ticket.MessageAdded):
        outbound = domain_event.outbound or {}
        return REPLY if outbound.get("channel") == "email" else None
    if isinstance(domain_event, Ticket.CustomerReminded):
        return REMINDER
    if isinstance(domain_event, Ticket.Closed) and domain_event.actor.role == "system":
        return CLOSE_NOTICE  # closed by itself; a person's close says what it needs to
    if invitations and isinstance(domain_event, Survey.Issued):
        return INVITATION
    return None


class EmailOutboxProjection(RowProjection[Change]):
    name = "outbound_email"
    view: WebhookDeliveryView

    def __init__(self, view: WebhookDeliveryView, invitations: bool = True):
        super().__init__(view)
        self.invitations = invitations

    def wants(self, topic: str, position: int) -> bool:
        """Only these events can ask for an email: the follower decodes no other."""
        return topic_names(topic) in self._kinds

    @property
    def _kinds(self) -> set[tuple[str, str] | None]:
        kinds = {("ticket", "message_added"), ("ticket", "customer_reminded"),
                 ("ticket", "closed")}  # fmt: skip
        if self.invitations:
            kinds.add(("survey", "issued"))
        return kinds

    def changes(self, domain_event: Any, position: int) -> list[Change]:
        kind = email_kind(domain_event, self.invitations)
        if kind is None:
            return []
        # A survey's email goes in its ticket's order, after the reply that resolved it.
        ticket_id = str(getattr(domain_event, "ticket_id", None) or domain_event.originator_id)
        return [
            Delivery(
                delivery_id(EMAIL_DESTINATION, position), EMAIL_DESTINATION, position,
                ticket_id, kind,
            )
        ]  # fmt: skip
