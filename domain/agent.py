"""The Agent aggregate: who answers tickets, in which languages, on which topics, how many
at once, and whether they are there right now."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.routing import AVAILABILITIES

__all__ = ["AVAILABILITIES", "Agent", "AgentInactive", "agent_id_for_email"]


def agent_id_for_email(email: str) -> UUID:
    """Agents get a deterministic id from their work email, so registering the same person
    twice collides in the event store instead of creating a second agent."""
    return uuid5(NAMESPACE_URL, f"/agents/email/{email.strip().lower()}")


def normalized(values: list[str]) -> list[str]:
    """Skills and languages without blanks or repeats, in the order given."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


class Agent(Aggregate):
    """A person on the support team. New agents start offline: routing only counts on
    agents who said they are online."""

    @staticmethod
    def create_id(email: str, **_: Any) -> UUID:
        return agent_id_for_email(email)

    @event("Registered")
    def __init__(
        self,
        name: str,
        email: str,
        languages: list[str],
        skills: list[str],
        generalist: bool,
        capacity: int,
        actor: Actor,
    ):
        self.name = name
        self.email = email.strip().lower()
        self.languages = normalized(languages)
        self.skills = normalized(skills)
        self.generalist = generalist
        self.capacity = capacity
        self.availability = "offline"
        self.active = True

    # Commands: each records an event only when something changes.

    def set_availability(self, availability: str, actor: Actor) -> None:
        if availability not in AVAILABILITIES:
            raise ValueError(f"availability must be one of {AVAILABILITIES}")
        if not self.active and availability != "offline":
            raise AgentInactive(self.id)
        if availability != self.availability:
            self._availability_changed(availability=availability, actor=actor)

    def set_languages(self, languages: list[str], actor: Actor) -> None:
        languages = normalized(languages)
        if languages != self.languages:
            self._languages_changed(languages=languages, actor=actor)

    def set_skills(self, skills: list[str], generalist: bool, actor: Actor) -> None:
        skills = normalized(skills)
        if skills != self.skills or generalist != self.generalist:
            self._skills_changed(skills=skills, generalist=generalist, actor=actor)

    def set_capacity(self, capacity: int, actor: Actor) -> None:
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        if capacity != self.capacity:
            self._capacity_changed(capacity=capacity, actor=actor)

    def deactivate(self, actor: Actor) -> None:
        if self.active:
            self._deactivated(actor=actor)

    def reactivate(self, actor: Actor) -> None:
        if not self.active:
            self._reactivated(actor=actor)

    @property
    def can_take_tickets(self) -> bool:
        return self.active and self.availability == "online"

    # Events: applied on every replay, so they only set state.

    @event("AvailabilityChanged")
    def _availability_changed(self, availability: str, actor: Actor) -> None:
        self.availability = availability

    @event("LanguagesChanged")
    def _languages_changed(self, languages: list[str], actor: Actor) -> None:
        self.languages = languages

    @event("SkillsChanged")
    def _skills_changed(self, skills: list[str], generalist: bool, actor: Actor) -> None:
        self.skills = skills
        self.generalist = generalist

    @event("CapacityChanged")
    def _capacity_changed(self, capacity: int, actor: Actor) -> None:
        self.capacity = capacity

    @event("Deactivated")
    def _deactivated(self, actor: Actor) -> None:
        self.active = False
        self.availability = "offline"

    @event("Reactivated")
    def _reactivated(self, actor: Actor) -> None:
        self.active = True


class AgentInactive(Exception):
    """A deactivated agent cannot come online or take tickets until reactivated."""

    def __init__(self, agent_id: UUID):
        super().__init__(f"agent {agent_id} is deactivated")
        self.agent_id = agent_id
