"""marshmallow schemas of the audit routes (resources/audit.py): verifying the chain,
exporting the log, reading the access log, and erasing a customer. (A ticket's as-of read
and history range are ticket routes: schemas/tickets.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from interface.http.schemas.common import (
    InstantRangeIn,
    OutSchema,
    next_cursor_field,
    no_control_characters,
    one_line,
    uuid_text,
)


class VerifyQueryIn(Schema):
    ticket = fields.UUID()


class ExportQueryIn(InstantRangeIn):
    ticket = fields.UUID()

    @validates_schema
    def one_scope(self, data: dict[str, Any], **_: Any) -> None:
        # Without ticket, from and to each default to the log's ends: no parameter at all
        # exports the whole log (issue 21: the document requires none).
        if "ticket" in data and ("from_" in data or "to" in data):
            raise ValidationError("Give either ticket, or from and to.", "ticket")


class AccessLogQueryIn(Schema):
    ticket = fields.UUID()
    principal = fields.String(validate=[validate.Length(min=1, max=200), one_line])
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))


class EraseIn(Schema):
    reason = fields.String(validate=[validate.Length(max=1000), no_control_characters])


# Dump side.


# Who read: a token (its id, name and role), or the holder of a survey link.
_PRINCIPAL = {
    "required": ["id", "name", "role"],
    "properties": {
        "id": {"type": "string", "description": "The token's id (survey-link for a link)."},
        "name": {"type": "string", "description": "The token's name."},
        "role": {"type": "string", "description": "The token's role (public for a link)."},
    },
}


class AccessEntryOut(OutSchema):
    id = fields.String()
    at = fields.Method("_at", metadata={"type": "string", "format": "date-time"})
    principal = fields.Method("_principal", metadata={"type": "object", **_PRINCIPAL})
    route = fields.String(allow_none=True)
    ticket_id = uuid_text(allow_none=True)
    what = fields.String()
    count = fields.Integer(allow_none=True, attribute="item_count")
    tickets = fields.Method(
        "_tickets", metadata={"type": "array", "items": {"type": "string", "format": "uuid"}}
    )
    detail = fields.String()

    def _at(self, row: dict[str, Any]) -> str:
        return datetime.fromtimestamp(row["at"], UTC).isoformat()

    def _principal(self, row: dict[str, Any]) -> dict[str, str]:
        return {"id": row["principal_id"], "name": row["principal_name"], "role": row["role"]}

    def _tickets(self, row: dict[str, Any]) -> list[str]:
        """The tickets a list read served (rows from before lists were logged have none)."""
        return row["ticket_ids"].split() if row["ticket_ids"] else []


# Shapes the resource builds by hand, written down for the OpenAPI document.


class BreakOut(Schema):
    reason = fields.String(required=True)
    position = fields.Integer(allow_none=True)
    aggregate_id = fields.UUID(allow_none=True)
    version = fields.Integer(allow_none=True)


class UnanchoredOut(Schema):
    """The log's tail no anchor outside the database covers yet (null for one ticket)."""

    anchored_position = fields.Integer(required=True, allow_none=True)
    events = fields.Integer(required=True)
    seconds = fields.Float(required=True, allow_none=True)


class VerifyOut(Schema):
    ok = fields.Boolean(required=True)
    scope = fields.String(required=True)
    checked_events = fields.Integer(required=True)
    head_position = fields.Integer(required=True)
    checkpoints_checked = fields.Integer(required=True)
    first_break = fields.Nested(BreakOut, required=True, allow_none=True)
    unanchored = fields.Nested(UnanchoredOut, required=True, allow_none=True)


class AccessLogOut(Schema):
    items = fields.List(fields.Nested(AccessEntryOut), required=True)
    next_cursor = next_cursor_field()


class ErasureOut(Schema):
    customer_id = fields.UUID(required=True)
    erased_at = fields.AwareDateTime(required=True)
    erased_by = fields.Dict(required=True)
    tickets = fields.List(fields.UUID(), required=True)
    already_erased = fields.Boolean(required=True)
    position = fields.Integer(required=True)
