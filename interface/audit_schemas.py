"""marshmallow schemas for as-of reads, history ranges, the audit routes and erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from interface.schemas import no_control_characters, one_line

# A little slack for clocks: "now" on the client may be a moment ahead of the server.
FUTURE_SLACK_SECONDS = 5


class TicketReadQueryIn(Schema):
    """``as_of`` must carry an offset (Clarification 16) and not lie in the future."""

    as_of = fields.AwareDateTime()

    @validates("as_of")
    def not_in_the_future(self, value: datetime, **_: Any) -> None:
        if (value - datetime.now(UTC)).total_seconds() > FUTURE_SLACK_SECONDS:
            raise ValidationError("Must not be in the future.")


class InstantRangeIn(Schema):
    from_ = fields.AwareDateTime(data_key="from")
    to = fields.AwareDateTime()

    @validates_schema
    def in_order(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start is not None and end is not None and start > end:
            raise ValidationError("Must not be after to.", "from")


class HistoryQueryIn(InstantRangeIn):
    pass


class VerifyQueryIn(Schema):
    ticket = fields.UUID()


class ExportQueryIn(InstantRangeIn):
    ticket = fields.UUID()

    @validates_schema
    def one_scope(self, data: dict[str, Any], **_: Any) -> None:
        has_range = "from_" in data or "to" in data
        if "ticket" in data and has_range:
            raise ValidationError("Give either ticket, or from and to.", "ticket")
        if "ticket" not in data and not ("from_" in data and "to" in data):
            raise ValidationError("Give ticket, or both from and to.", "ticket")


class AccessLogQueryIn(Schema):
    ticket = fields.UUID()
    principal = fields.String(validate=[validate.Length(min=1, max=200), one_line])
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))


class EraseIn(Schema):
    reason = fields.String(validate=[validate.Length(max=1000), no_control_characters])


class AccessEntryOut(Schema):
    id = fields.String()
    at = fields.Method("_at")
    principal = fields.Method("_principal")
    route = fields.String(allow_none=True)
    ticket_id = fields.String(allow_none=True)
    what = fields.String()
    count = fields.Integer(allow_none=True, attribute="item_count")
    tickets = fields.Method("_tickets")
    detail = fields.String()

    def _at(self, row: dict[str, Any]) -> str:
        return datetime.fromtimestamp(row["at"], UTC).isoformat()

    def _principal(self, row: dict[str, Any]) -> dict[str, str]:
        return {"id": row["principal_id"], "name": row["principal_name"], "role": row["role"]}

    def _tickets(self, row: dict[str, Any]) -> list[str]:
        """The tickets a list read served (rows from before lists were logged have none)."""
        return row["ticket_ids"].split() if row["ticket_ids"] else []
