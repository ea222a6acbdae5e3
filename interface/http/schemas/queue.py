"""marshmallow schemas of the agent queue (resources/queue.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.ticket_vocabulary import CHANNELS, PRIORITIES
from interface.http.schemas.common import (
    BCP47,
    NAME_MAX,
    TAG,
    FullMatch,
    TicketSummaryOut,
    hidden_from_analysts,
    instant_text,
    next_cursor_field,
    short_text,
)
from projections.queue import ACTIVE as QUEUE_STATUSES


class QueueQueryIn(Schema):
    assignee = short_text(NAME_MAX)
    unassigned = fields.Boolean()
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    category = short_text(NAME_MAX)
    status = fields.String(validate=validate.OneOf(QUEUE_STATUSES))
    tag = fields.String(validate=[validate.Length(min=1, max=50), FullMatch(TAG)])
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))
    after_position = fields.Integer(validate=validate.Range(min=0))


# Dump side.


class QueueItemOut(TicketSummaryOut):
    class Meta:
        sometimes = ("subject", "requester_name")

    requester_name = hidden_from_analysts()
    created_at = instant_text()
    last_customer_message_at = instant_text(allow_none=True)
    tags = fields.List(fields.String())
    sla_breached = fields.Boolean()
    sla_due_at = instant_text(allow_none=True)


class QueuePageOut(Schema):
    items = fields.List(fields.Nested(QueueItemOut), required=True)
    next_cursor = next_cursor_field()
