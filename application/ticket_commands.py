"""What a person can do to a ticket, one use case a name: add a message, resolve,
reopen, escalate... Each loads the ticket, applies one domain command and saves what it
recorded, through ``TicketApplication.change`` (which re-reads and retries when another
writer got there first).

The HTTP layer maps each ``POST /v1/tickets/{id}/<name>`` route to one of these by name
(interface/http/resources/tickets.py); the keyword arguments are the fields of the
route's request schema, so a validated body is passed as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from application.idempotency import IdempotencyClaim
from application.tickets import CommandResult, TicketApplication
from domain.actor import Actor, NotYourOwn
from domain.ticket import Ticket


@dataclass(frozen=True)
class WriteTerms:
    """How a command may be written: only over the ticket version the caller saw
    (If-Match), and once per idempotency key."""

    expected_version: int | None = None
    idempotency: IdempotencyClaim | None = None


ANY_VERSION = WriteTerms()


class CitableArticles(Protocol):
    def citable(self, articles: Collection[UUID]) -> list[str]: ...


class TicketCommands:
    def __init__(self, tickets: TicketApplication, kb: CitableArticles | None = None):
        self.tickets = tickets
        self.kb = kb  # checks the articles a reply cites (issue 23)

    def add_message(
        self,
        ticket_id: UUID,
        *,
        body: str,
        author_type: str,
        visibility: str,
        author_id: str | None = None,
        channel: str | None = None,
        articles: Sequence[UUID] = (),
        actor: Actor,
        terms: WriteTerms = ANY_VERSION,
    ) -> CommandResult:
        if author_type == "agent":
            author_id = self._agent_author(author_id, actor)
        cited = self._citable(articles)
        return self._apply(
            ticket_id,
            lambda t: t.add_message(
                body, author_type, author_id, visibility, channel, actor, articles=cited
            ),
            terms,
        )

    def _citable(self, articles: Sequence[UUID]) -> list[str]:
        if not articles:
            return []
        if self.kb is None:
            raise RuntimeError("TicketCommands was built without the knowledge base")
        return self.kb.citable(articles)

    def _agent_author(self, author_id: str | None, actor: Actor) -> str | None:
        """Who an agent's message is by (issue 20). An agent-bound token writes as its
        agent, whatever the caller says; an integrator names an agent only with an
        on-behalf grant; a named author must be a registered agent (404). First response
        and resolution are attributed to the author in the reports."""
        if actor.agent_id is not None:
            if author_id is not None and actor.speaks_for_another_agent(author_id):
                raise NotYourOwn(
                    f"this token acts as agent {actor.agent_id}; it may not write as {author_id}"
                )
            return actor.agent_id
        if author_id is None:
            return None
        if actor.role == "integrator" and not actor.on_behalf:
            raise NotYourOwn(
                "an integrator token names an agent as a message's author only with an "
                "on-behalf grant (atende tokens create --on-behalf)"
            )
        return str(self.tickets.agents.get(author_id).id)

    def assign(
        self,
        ticket_id: UUID,
        *,
        agent_id: UUID,
        force: bool = False,
        actor: Actor,
        terms: WriteTerms = ANY_VERSION,
    ) -> CommandResult:
        """To a known agent, online and active unless ``force`` (TicketApplication.assign)."""
        return self.tickets.assign(
            ticket_id,
            agent_id,
            force=force,
            actor=actor,
            expected_version=terms.expected_version,
            idempotency=terms.idempotency,
        )

    def unassign(
        self, ticket_id: UUID, *, actor: Actor, terms: WriteTerms = ANY_VERSION
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.unassign(actor), terms)

    def change_status(
        self, ticket_id: UUID, *, status: str, actor: Actor, terms: WriteTerms = ANY_VERSION
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.change_status(status, actor), terms)

    def change_language(
        self, ticket_id: UUID, *, language: str, actor: Actor, terms: WriteTerms = ANY_VERSION
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.change_language(language, actor), terms)

    def change_priority(
        self, ticket_id: UUID, *, priority: str, actor: Actor, terms: WriteTerms = ANY_VERSION
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.change_priority(priority, actor), terms)

    def change_category(
        self,
        ticket_id: UUID,
        *,
        category: str | None,
        actor: Actor,
        terms: WriteTerms = ANY_VERSION,
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.change_category(category, actor), terms)

    def change_tags(
        self,
        ticket_id: UUID,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        actor: Actor,
        terms: WriteTerms = ANY_VERSION,
    ) -> CommandResult:
        return self._apply(
            ticket_id, lambda t: t.change_tags(list(add), list(remove), actor), terms
        )

    def escalate(
        self,
        ticket_id: UUID,
        *,
        reason: str,
        level: int | None = None,
        actor: Actor,
        terms: WriteTerms = ANY_VERSION,
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.escalate(reason, level, actor), terms)

    def resolve(
        self,
        ticket_id: UUID,
        *,
        resolution: str | None = None,
        actor: Actor,
        terms: WriteTerms = ANY_VERSION,
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.resolve(resolution, actor), terms)

    def reopen(
        self,
        ticket_id: UUID,
        *,
        reason: str | None = None,
        actor: Actor,
        terms: WriteTerms = ANY_VERSION,
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.reopen(reason, actor), terms)

    def close(
        self, ticket_id: UUID, *, actor: Actor, terms: WriteTerms = ANY_VERSION
    ) -> CommandResult:
        return self._apply(ticket_id, lambda t: t.close(actor), terms)

    def _apply(
        self, ticket_id: UUID, command: Callable[[Ticket], Any], terms: WriteTerms
    ) -> CommandResult:
        return self.tickets.change(
            ticket_id,
            command,
            expected_version=terms.expected_version,
            idempotency=terms.idempotency,
        )
