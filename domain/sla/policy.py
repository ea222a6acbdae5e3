"""SLA policies: an ordered list, first match wins, each with targets in business seconds
counted on a named calendar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from domain.actor import Actor

METRICS = ("first_response", "next_response", "resolution")
CONDITION_FIELDS = ("priority", "channel", "category", "language", "tag")
DEFAULT_WARN_FRACTION = 0.8
POLICIES_ID = uuid5(NAMESPACE_URL, "/sla/policies")


@dataclass(frozen=True)
class SlaPolicy:
    """One policy: which tickets it covers and how long each metric may take."""

    name: str
    calendar: str
    targets: Mapping[str, int]
    conditions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pause_on_hold: bool = False
    warn_fraction: float = DEFAULT_WARN_FRACTION
    escalate_on_breach: bool = False
    raise_priority_on_breach: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaPolicy:
        return cls(
            name=data["name"],
            calendar=data["calendar"],
            targets={m: int(s) for m, s in data["targets"].items() if s is not None},
            conditions={k: tuple(v) for k, v in (data.get("conditions") or {}).items() if v},
            pause_on_hold=bool(data.get("pause_on_hold", False)),
            warn_fraction=float(data.get("warn_fraction", DEFAULT_WARN_FRACTION)),
            escalate_on_breach=bool(data.get("escalate_on_breach", False)),
            raise_priority_on_breach=bool(data.get("raise_priority_on_breach", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "calendar": self.calendar,
            "targets": dict(self.targets),
            "conditions": {k: list(v) for k, v in self.conditions.items()},
            "pause_on_hold": self.pause_on_hold,
            "warn_fraction": self.warn_fraction,
            "escalate_on_breach": self.escalate_on_breach,
            "raise_priority_on_breach": self.raise_priority_on_breach,
        }

    def matches(self, ticket: TicketTraits) -> bool:
        """Every condition given must hold; within one condition, any value will do."""
        return all(
            self._holds(name, accepted, ticket) for name, accepted in self.conditions.items()
        )

    @staticmethod
    def _holds(name: str, accepted: Sequence[str], ticket: TicketTraits) -> bool:
        if name == "tag":
            return any(tag in accepted for tag in ticket.tags)
        if name == "language":
            # An agent team for "pt" serves "pt-BR": match on the primary subtag.
            primary = (ticket.language or "").split("-", 1)[0].lower()
            return primary in {a.split("-", 1)[0].lower() for a in accepted}
        return getattr(ticket, name) in accepted


@dataclass(frozen=True)
class TicketTraits:
    """What policy conditions look at."""

    priority: str
    channel: str
    category: str | None
    language: str | None
    tags: tuple[str, ...]

    @classmethod
    def of(cls, ticket: Any) -> TicketTraits:
        return cls(
            priority=ticket.priority,
            channel=ticket.channel,
            category=ticket.category,
            language=ticket.language,
            tags=tuple(ticket.tags),
        )


def first_match(policies: Sequence[SlaPolicy], ticket: TicketTraits) -> SlaPolicy | None:
    return next((p for p in policies if p.matches(ticket)), None)


class SlaPolicies(Aggregate):
    """The deployment's ordered policy list; every replacement is a new version, so the
    version a ticket's timers were set under stays on record."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return POLICIES_ID

    @event("Created")
    def __init__(self, actor: Actor):
        self.policies: list[dict[str, Any]] = []

    def replace(self, policies: Sequence[SlaPolicy], actor: Actor) -> None:
        names = [p.name for p in policies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidPolicy("policies", f"policy names must be unique: {duplicates}")
        as_dicts = [p.as_dict() for p in policies]
        if as_dicts != self.policies:
            self._replaced(policies=as_dicts, actor=actor)

    def uses_calendar(self, name: str) -> bool:
        return any(p["calendar"] == name for p in self.policies)

    def ordered(self) -> list[SlaPolicy]:
        return [SlaPolicy.from_dict(p) for p in self.policies]

    @event("Replaced")
    def _replaced(self, policies: list[dict[str, Any]], actor: Actor) -> None:
        self.policies = policies


# Events stored before this module moved name it by its old path
# ("domain.sla:SlaPolicies.Created"...); databases keep them, so that path must still resolve.
register_topic("domain.sla:SlaPolicies", SlaPolicies)


class InvalidPolicy(Exception):
    """A policy list that cannot be accepted; ``field`` names the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
