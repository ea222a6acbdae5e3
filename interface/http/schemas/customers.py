"""marshmallow schemas of a customer's tickets (resources/customers.py); erasing a
customer is an audit route (schemas/audit.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.ticket_vocabulary import STATUSES
from interface.http.schemas.tickets import TicketListPageOut


class CustomerTicketsQueryIn(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))
    after_position = fields.Integer(validate=validate.Range(min=0))


# Dump side: a shape the resource builds by hand, for the OpenAPI document.


class CustomerTicketsOut(TicketListPageOut):
    customer_id = fields.UUID(required=True)
