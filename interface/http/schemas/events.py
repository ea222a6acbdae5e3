"""marshmallow schemas of the global event feed (resources/events.py); ``EventOut`` is
also how a ticket's history shows each of its events."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

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
    actor = Plain()
    data = Plain()


class EventFeedOut(Schema):
    events = fields.List(fields.Nested(EventOut), required=True)
    next_after = fields.Integer(required=True)
    head = fields.Integer(required=True)
