"""Agent commands and reads. Agents live in the same event store as tickets, so an
assignment can check the agent it names and auditors see every change to an agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import AgentNotFound, DuplicateAgent
from application.idempotency import IdempotencyClaim, outcome_of
from application.ports import HostsAgents
from application.retries import Save, save_with_retries
from domain.actor import SYSTEM, Actor
from domain.agent import Agent, AgentInactive, agent_id_for_email

RETRIES = 10
BACKOFF_SECONDS = 0.005


class AgentDirectory:
    def __init__(self, app: HostsAgents, held_by: Callable[[str], list[str]] = lambda agent_id: []):
        self.app = app
        # The ids of the active tickets an agent holds: the routing view's answer, given
        # by the wiring point (the view lives in infrastructure).
        self.held_by = held_by

    def register(
        self,
        *,
        name: str,
        email: str,
        languages: list[str],
        skills: list[str],
        generalist: bool,
        capacity: int,
        actor: Actor,
        idempotency: IdempotencyClaim | None = None,
    ) -> tuple[Agent, int]:
        agent = Agent(
            name=name,
            email=email,
            languages=languages,
            skills=skills,
            generalist=generalist,
            capacity=capacity,
            actor=actor,
        )
        try:
            recordings = self.app.save(agent, idempotency=outcome_of(idempotency, 201, agent))
        except IntegrityError:
            raise DuplicateAgent(agent_id_for_email(email)) from None
        return agent, recordings[-1].notification.id

    def get(self, agent_id: UUID | str) -> Agent:
        try:
            agent = self.app.repository.get(UUID(str(agent_id)))
        except (AggregateNotFoundError, ValueError):
            raise AgentNotFound(agent_id) from None
        if not isinstance(agent, Agent):
            raise AgentNotFound(agent_id)
        return agent

    def check_active(self, agent_id: UUID | str) -> None:
        """Raise unless ``agent_id`` is a registered agent who is not deactivated (an
        agent token may only be bound to one)."""
        agent = self.get(agent_id)
        if not agent.active:
            raise AgentInactive(agent.id)

    def position_of(self, agent: Agent) -> int:
        return self.app.recorder.position_of(agent.id, agent.version)

    def change(
        self,
        agent_id: UUID,
        command: Callable[[Agent], None],
        idempotency: IdempotencyClaim | None = None,
    ) -> tuple[Agent, int]:
        """Apply ``command`` and save; a concurrent change makes it re-read and retry.
        ``idempotency`` is completed with what was saved (or the agent as it stands)."""

        def attempt() -> tuple[Agent, int] | Save[tuple[Agent, int]]:
            agent = self.get(agent_id)
            command(agent)
            outcome = outcome_of(idempotency, 200, agent)
            if not agent.pending_events:
                if outcome is not None:
                    self.app.idempotency.complete(outcome)
                return agent, self.position_of(agent)

            def write() -> tuple[Agent, int]:
                recordings = self.app.save(agent, *self._handed_back(agent), idempotency=outcome)
                return agent, recordings[-1].notification.id

            return Save(write)

        return save_with_retries(
            attempt, what=f"agent {agent_id}", retries=RETRIES, backoff_seconds=BACKOFF_SECONDS
        )

    def _handed_back(self, agent: Agent) -> list[Any]:
        """When the change deactivates the agent: the tickets they hold, each unassigned
        by the system with the reason, to save in the same transaction as the agent (with
        what that does to the ticket's SLA timers and surveys, as every ticket save)."""
        if not any(isinstance(e, Agent.Deactivated) for e in agent.pending_events):
            return []
        reason = {"why": "agent deactivated", "agent_id": str(agent.id)}
        handed: list[Any] = []
        for ticket_id in self.held_by(str(agent.id)):
            ticket = self.app.get_ticket(UUID(ticket_id))
            if ticket.assignee != str(agent.id) or not ticket.is_active:
                continue  # the view was a moment behind: it changed hands meanwhile
            ticket.unassign(SYSTEM, reason=reason)
            sla = self.app.sla.follow(ticket, SYSTEM)
            handed += [ticket, *([sla] if sla else []), *self.app.surveys.follow(ticket)]
        return handed
