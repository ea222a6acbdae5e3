"""marshmallow schemas of the report routes (resources/reports.py), and the window every
report reads (the SLA ones too: schemas/sla.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from projections.reports import GROUPS

DEFAULT_DAYS = 30
MAX_RANGE_DAYS = 3 * 366  # a day-by-day report over longer is not a report
DAY = timedelta(days=1)
WHOLE_DAYS = "This report counts whole UTC days: give a date, or an instant at 00:00 UTC."
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


# The window and whole days as the OpenAPI document describes them to integrators.
WINDOW_DESCRIPTION = (
    "from and to are each a date (YYYY-MM-DD, a whole UTC day) or an instant with an "
    "offset; the window runs from from up to to (a date's whole day included, an instant "
    f"excluded). Default: the last {DEFAULT_DAYS} days up to the end of "
    f"today (UTC); at most {MAX_RANGE_DAYS} days; from must come before to."
)
WHOLE_DAYS_DESCRIPTION = "This report counts whole UTC days: an instant must be 00:00 UTC."


class DayOrInstant(fields.String):
    """A date (YYYY-MM-DD: a whole UTC day) or an instant with an offset."""

    default_error_messages = {
        "invalid": "Give a date (YYYY-MM-DD, a whole UTC day) or an instant with an "
        "offset (2026-03-01T09:30:00Z)."
    }
    _date = fields.Date()
    _instant = fields.AwareDateTime()

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date | datetime:
        text = super()._deserialize(value, attr, data, **kwargs)
        parser = self._date if _DAY.fullmatch(text) else self._instant
        try:
            return parser.deserialize(text)
        except ValidationError:
            raise self.make_error("invalid") from None


class ReportWindowIn(Schema):
    """The window of every report (``/v1/reports/*``, ``/v1/agents/{id}/performance``,
    ``/v1/sla/breaches``): ``from`` and ``to`` are each a date or an instant with an
    offset. It runs from ``from`` (a date: its 00:00 UTC) up to ``to`` (a date: the end
    of that day, so both days count; an instant: excluded). By default ``to`` is the end
    of today (UTC) and ``from`` 30 days before it; ``from`` must come before ``to`` and
    the window may span at most MAX_RANGE_DAYS days (both a 422 naming ``from``)."""

    from_ = DayOrInstant(data_key="from")
    to = DayOrInstant()
    after_position = fields.Integer(validate=validate.Range(min=0))

    @post_load
    def window(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        end = _end(data.get("to")) if "to" in data else _end(datetime.now(UTC).date())
        start = _start(data["from_"]) if "from_" in data else end - timedelta(days=DEFAULT_DAYS)
        if start >= end:
            raise ValidationError("Must be before to.", "from")
        # Checked after the defaults: a far ``from`` alone spans up to today.
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise ValidationError(f"The window may span at most {MAX_RANGE_DAYS} days.", "from")
        return self.shape(data, start, end)

    def shape(self, data: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
        """Instants: ``from_`` included, ``to`` excluded."""
        return {**data, "from_": start, "to": end}


class DateRangeIn(ReportWindowIn):
    """Reports counted in whole UTC days (their rollups keep days): the window must
    start and end on a UTC midnight, and loads as the first and the last day."""

    def shape(self, data: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
        # Only a given edge can be off midnight: a default ``from`` follows ``to``.
        edges = {"from": (start, "from_"), "to": (end, "to")}
        off = [name for name, (edge, key) in edges.items() if key in data and _off_midnight(edge)]
        if off:
            raise ValidationError({name: [WHOLE_DAYS] for name in off})
        first, last = start.astimezone(UTC).date(), (end.astimezone(UTC) - DAY).date()
        return {**data, "from_": first, "to": last}


def _off_midnight(instant: datetime) -> bool:
    return instant.astimezone(UTC).time() != time(0)


def _start(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(0), UTC)


def _end(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else _start(value) + DAY


class SatisfactionQueryIn(DateRangeIn):
    group_by = fields.String(load_default="day", validate=validate.OneOf(GROUPS))


# Shapes the resources build by hand, written down for the OpenAPI document.


class SatisfactionOut(Schema):
    surveys_sent = fields.Integer(required=True)
    responses = fields.Integer(required=True)
    response_rate = fields.Float(required=True, allow_none=True)
    average_rating = fields.Float(required=True, allow_none=True)
    csat = fields.Float(required=True, allow_none=True)


class SatisfactionGroupOut(SatisfactionOut):
    group = fields.String(required=True, allow_none=True)


class SatisfactionReportOut(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    group_by = fields.String(required=True)
    groups = fields.List(fields.Nested(SatisfactionGroupOut), required=True)
    total = fields.Nested(SatisfactionOut, required=True)


class PerformanceOut(Schema):
    """One agent's figures; the times and SLA members are nested objects."""

    agent_id = fields.String(required=True)
    assigned = fields.Integer(required=True)
    resolved = fields.Integer(required=True)
    resolution_rate = fields.Float(required=True, allow_none=True)
    reopened = fields.Integer(required=True)
    reopen_rate = fields.Float(required=True, allow_none=True)
    first_response = fields.Dict(required=True)
    resolution = fields.Dict(required=True)
    sla = fields.Dict(required=True)
    csat = fields.Nested(SatisfactionOut, required=True)


class AgentsReportOut(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    agents = fields.List(fields.Nested(PerformanceOut), required=True)


class AgentPerformanceOut(PerformanceOut):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
