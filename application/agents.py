"""Agent commands and reads. Agents live in the same event store as tickets, so an
assignment can check the agent it names and auditors see every change to an agent."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import AgentNotFound, ConcurrentWriteConflict, DuplicateAgent
from domain.actor import Actor
from domain.agent import Agent, agent_id_for_email

RETRIES = 10
BACKOFF_SECONDS = 0.005


class AgentDirectory:
    def __init__(self, app: Any):
        self.app = app

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
            recordings = self.app.save(agent)
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

    def position_of(self, agent: Agent) -> int:
        return self.app.recorder.position_of(agent.id, agent.version)

    def change(self, agent_id: UUID, command: Callable[[Agent], None]) -> tuple[Agent, int]:
        """Apply ``command`` and save; a concurrent change makes it re-read and retry."""
        for attempt in range(RETRIES):
            if attempt:
                time.sleep(random.uniform(0, BACKOFF_SECONDS * attempt))
            agent = self.get(agent_id)
            command(agent)
            if not agent.pending_events:
                return agent, self.position_of(agent)
            try:
                recordings = self.app.save(agent)
            except IntegrityError:
                continue
            return agent, recordings[-1].notification.id
        raise ConcurrentWriteConflict(f"agent {agent_id} kept changing; try again")
