"""The catalogue of every event Atende records, as integrators receive it (the event feed,
a ticket's history): one entry per event type, with its version and the schema of its
``data`` (interface/events/data.py).

The OpenAPI document takes its components from here (``components``): an envelope per
event type whose ``type`` and ``aggregate_type`` are constants, a union per aggregate
discriminated on ``type``, and ``Event``, the union of those, which each event's constant
``aggregate_type`` tells apart (``type`` alone is not unique: surveys and API tokens are
both ``issued``). docs/events.md is rendered from it too (interface/events/markdown.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eventsourcing.domain import _created_event_classes
from marshmallow import Schema

from application.tickets import aggregate_type_of_class
from domain.actor import ROLES
from domain.agent import Agent
from domain.api_token import ApiToken
from domain.calendar import Calendar
from domain.customer import CustomerIdentity
from domain.erasure import CustomerErasure
from domain.intake import ThreadKey
from domain.kb.article import Article
from domain.kb.categories import KbCategories
from domain.kb.feedback import ArticleFeedback
from domain.kb.usage import KbUsage
from domain.sla.policy import SlaPolicies
from domain.sla.timers import TicketSla
from domain.survey import Survey
from domain.ticket import Ticket, event_class_type_name
from domain.ticket_email import TicketEmail
from domain.webhook import WebhookRegistry
from interface.events import data

# Every aggregate whose events the log holds, in the order the catalogue lists them.
AGGREGATES: tuple[type, ...] = (
    Ticket,
    TicketSla,
    Survey,
    Agent,
    CustomerIdentity,
    CustomerErasure,
    ThreadKey,
    SlaPolicies,
    Calendar,
    ApiToken,
    WebhookRegistry,
    TicketEmail,
    Article,
    KbCategories,
    ArticleFeedback,
    KbUsage,
)
# Who an event's actor can be: a token's role, the system (SLA clock, router, follow-up
# sweep) or the customer (a survey link).
ACTOR_ROLES = (*ROLES, "system", "customer")
UNION = "Event"
_REF = "#/components/schemas/"


def recordable_events(aggregate: type) -> list[type]:
    """The event classes an aggregate records: its own, without the base ``Event`` and
    ``Snapshot``, nor the library's inherited ``Created`` when ``__init__`` records
    another (the library keeps which in ``_created_event_classes``; no public name)."""
    created = set(_created_event_classes.get(aggregate, ()))
    found = []
    for name in dir(aggregate):
        member = getattr(aggregate, name)
        if not isinstance(member, type) or not issubclass(member, aggregate.Event):
            continue
        if member is aggregate.Event or name == "Snapshot" or member.__name__ != name:
            continue
        if issubclass(member, aggregate.Created) and member not in created:
            continue
        found.append(member)
    return found


@dataclass(frozen=True)
class EventType:
    """One event type: the domain class that records it and the schema of its data."""

    event_class: type
    data: type[Schema] | None  # None: not catalogued yet (the catalogue test names it)

    @property
    def aggregate(self) -> type:
        owner = self.event_class.__qualname__.split(".")[0]
        return next(a for a in AGGREGATES if a.__name__ == owner)

    @property
    def aggregate_type(self) -> str:
        return aggregate_type_of_class(self.event_class)

    @property
    def type(self) -> str:
        return event_class_type_name(self.event_class)

    @property
    def version(self) -> int:
        return getattr(self.event_class, "class_version", 1)

    @property
    def name(self) -> str:
        """Its component names' stem: ``TicketOpened``."""
        return self.aggregate.__name__ + self.event_class.__name__

    @property
    def description(self) -> str:
        return " ".join((self.data.__doc__ or "").split()) if self.data else ""

    @cached_property
    def personal(self) -> list[str]:
        """The dotted paths of its personal members (``requester.email``)."""
        return _personal_paths(self.data()) if self.data else []


def _personal_paths(schema: Schema, prefix: str = "") -> list[str]:
    found = []
    for name, field in schema.fields.items():
        if field.metadata.get("x-personal"):
            found.append(prefix + name)
        nested = getattr(field, "schema", None)
        if isinstance(nested, Schema):
            found += _personal_paths(nested, f"{prefix}{name}.")
    return found


def _catalogued(event_class: type) -> EventType:
    owner = event_class.__qualname__.split(".")[0]
    return EventType(event_class, getattr(data, owner + event_class.__name__, None))


CATALOGUE: tuple[EventType, ...] = tuple(
    _catalogued(event_class)
    for aggregate in AGGREGATES
    for event_class in sorted(recordable_events(aggregate), key=lambda c: c.__name__)
)
BY_TYPE: dict[tuple[str, str], EventType] = {(e.aggregate_type, e.type): e for e in CATALOGUE}


def union_name(aggregate: type) -> str:
    """The union of one aggregate's events: ``TicketEvent``."""
    return aggregate.__name__ + "Event"


# The OpenAPI components.


def components(spec: Any) -> None:
    """Add the catalogue to an apispec ``APISpec``: Actor, each event type's data and
    envelope, a union per aggregate and ``Event``."""
    spec.components.schema("Actor", _actor())
    for entry in CATALOGUE:
        if entry.data is None:
            continue
        spec.components.schema(entry.name + "Data", schema=entry.data)
        spec.components.schema(entry.name + "Event", _envelope(entry))
    for aggregate in AGGREGATES:
        entries = [e for e in CATALOGUE if e.aggregate is aggregate and e.data is not None]
        spec.components.schema(
            union_name(aggregate),
            {
                "description": f"Any event of a {aggregate_type_of_class(aggregate.Event)}.",
                "oneOf": [{"$ref": _REF + e.name + "Event"} for e in entries],
                "discriminator": {
                    "propertyName": "type",
                    "mapping": {e.type: _REF + e.name + "Event" for e in entries},
                },
            },
        )
    spec.components.schema(
        UNION,
        {
            "description": "Any event of the log (see docs/events.md for the catalogue): "
            "one of the aggregates' unions, told apart by aggregate_type (a constant in each "
            "event). No discriminator object: a mapping must name object schemas, and these "
            "are unions (openapi-typescript warns on one).",
            "oneOf": [{"$ref": _REF + union_name(a)} for a in AGGREGATES],
        },
    )


def _actor() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Who recorded the event.",
        "required": ["id", "name", "role"],
        "properties": {
            "id": {"type": "string", "description": "The token's id, or the system's name."},
            "name": {"type": "string", "description": "The token's name."},
            "role": {"type": "string", "enum": list(ACTOR_ROLES)},
            "agent_id": {
                "type": "string",
                "format": "uuid",
                "description": "The agent an agent-bound token acts as (absent otherwise).",
            },
            "on_behalf": {
                "type": "boolean",
                "description": "An integrator allowed to name message authors (absent otherwise).",
            },
        },
    }


def _envelope(entry: EventType) -> dict[str, Any]:
    uuid = {"type": "string", "format": "uuid"}
    return {
        "type": "object",
        "description": f"`{entry.aggregate_type}` · `{entry.type}`: {entry.description} "
        f"(version {entry.version})",
        "required": [
            "ticket_id",
            "aggregate_type",
            "aggregate_id",
            "version",
            "type",
            "schema_version",
            "occurred_at",
            "actor",
            "data",
        ],
        "properties": {
            "position": {
                "type": "integer",
                "description": "Its place in the global log; in the event feed only.",
            },
            "ticket_id": {
                **uuid,
                "type": ["string", "null"],
                "description": "The ticket it concerns, if any.",
            },
            "aggregate_type": {
                "type": "string",
                "const": entry.aggregate_type,
                "description": "Whose event it is (with type, names the event type).",
            },
            "aggregate_id": {**uuid, "description": "Whose event it is."},
            "version": {"type": "integer", "description": "Its place in its aggregate's log."},
            "type": {"type": "string", "const": entry.type, "description": "The event type."},
            "schema_version": {
                "type": "integer",
                "const": entry.version,
                "description": "The version of this event type's shape.",
            },
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "description": "When it was recorded.",
            },
            "actor": {"$ref": _REF + "Actor", "description": "Who recorded it."},
            "data": {"$ref": _REF + entry.name + "Data", "description": "What it records."},
        },
    }
