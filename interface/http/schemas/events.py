"""marshmallow schemas of the global event feed (resources/events.py); ``EventOut`` is
also how a ticket's history shows each of its events."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from application.tickets import recorded_event
from interface.events.catalogue import UNION
from interface.http.schemas.common import Plain


class EventsQuery(Schema):
    # Positions are 64-bit: a larger one cannot exist, and SQLite cannot even bind it.
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


# Dump side.


class EventOut(Schema):
    position = fields.Integer()
    ticket_id = fields.UUID(allow_none=True)
    aggregate_type = fields.String()
    aggregate_id = fields.UUID()
    version = fields.Integer()
    type = fields.String()
    occurred_at = fields.AwareDateTime()
    schema_version = fields.Integer()
    actor = Plain()
    data = Plain()


_EVENT_OUT = EventOut()


def event_as_fed(domain_event: Any, position: int) -> dict[str, Any]:
    """A domain event as ``/v1/events`` shows it: what the outbound stream and webhooks
    deliver, so every consumer reads one shape (the catalogue's)."""
    return _EVENT_OUT.dump(recorded_event(domain_event, position))


class CataloguedEvent(fields.Field):
    """An event, dumped by ``EventOut``; the OpenAPI document shows the catalogue's union
    ``union`` (interface/events/catalogue.py: every type, typed) instead."""

    def __init__(self, union: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.union = union

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return _EVENT_OUT.dump(value)


class EventFeedOut(Schema):
    events = fields.List(CataloguedEvent(UNION), required=True)
    next_after = fields.Integer(required=True)
    head = fields.Integer(required=True)
