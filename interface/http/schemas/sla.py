"""marshmallow schemas of the SLA routes: calendars (and revision reads), policies,
breaches and the report.

Shapes are checked here; the rules of a calendar (overlaps, 24:00, time zones) are the
domain's (domain.calendar raises InvalidCalendar naming the field)."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from domain.calendar import DAYS
from domain.sla.policy import METRICS
from domain.ticket_vocabulary import CHANNELS, PRIORITIES
from interface.events.data import AppliedPolicy, Policy, Timer
from interface.http.schemas.common import (
    BCP47,
    NAME_MAX,
    TAG,
    FullMatch,
    OutSchema,
    Plain,
    WholeNumber,
    instant_text,
    next_cursor_field,
    one_line,
    one_of,
    uuid_text,
)
from interface.http.schemas.reports import ReportWindowIn
from projections.sla import PERIODS

CLOCK = r"^([01][0-9]|2[0-4]):[0-5][0-9]$"
MAX_POLICIES = 100
MAX_CLOSURES = 1000


def _clock(**kwargs: Any) -> fields.String:
    return fields.String(validate=FullMatch(CLOCK, error="Must be HH:MM."), **kwargs)


class HolidaySeedIn(Schema):
    country = fields.String(required=True, validate=FullMatch(r"^[A-Z]{2,3}$"))
    subdivision = fields.String(validate=validate.Length(min=1, max=10))
    categories = fields.List(
        fields.String(validate=validate.Length(min=1, max=30)), validate=validate.Length(max=10)
    )
    years = fields.List(
        fields.Integer(validate=validate.Range(min=1970, max=2100)),
        validate=validate.Length(min=1, max=10),
    )


class ClosureIn(Schema):
    date = fields.Date(required=True)
    start = _clock(allow_none=True)
    end = _clock(allow_none=True)
    reason = fields.String(validate=[validate.Length(max=200), one_line])


class CalendarIn(Schema):
    class Meta:
        # opens_sometime: not (always_open false, or absent, and every day empty).
        openapi = {
            "not": {
                "properties": {
                    "always_open": {"const": False},
                    "weekly": {"additionalProperties": {"maxItems": 0}},
                }
            }
        }

    timezone = fields.String(required=True, validate=validate.Length(min=1, max=64))
    always_open = fields.Boolean(load_default=False)
    weekly = fields.Dict(
        keys=fields.String(validate=validate.OneOf(DAYS)),
        # Interval rules (HH:MM, order, overlaps, 24:00) are the domain's: its errors
        # name the interval, e.g. weekly.monday[1].end.
        values=fields.List(
            fields.List(
                fields.String(metadata={"pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"}),
                validate=validate.Length(equal=2),
            )
        ),
        load_default=dict,
    )
    holidays = fields.Nested(HolidaySeedIn)
    closures = fields.List(
        fields.Nested(ClosureIn), load_default=list, validate=validate.Length(max=MAX_CLOSURES)
    )

    @validates_schema
    def opens_sometime(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("always_open") and not any(data.get("weekly", {}).values()):
            raise ValidationError("Give weekly hours, or always_open: true.", "weekly")


class TargetsIn(Schema):
    first_response = WholeNumber(validate=validate.Range(min=1))
    next_response = WholeNumber(validate=validate.Range(min=1))
    resolution = WholeNumber(validate=validate.Range(min=1))

    @validates_schema
    def has_a_target(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError(f"Give at least one of {', '.join(METRICS)}.")


def _any_of(*choices: str) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(choices)), validate=_non_empty)


def _non_empty(values: list[Any]) -> None:
    if not values:
        raise ValidationError("Must not be empty.")


class ConditionsIn(Schema):
    priority = _any_of(*PRIORITIES)
    channel = _any_of(*CHANNELS)
    category = fields.List(fields.String(validate=validate.Length(min=1, max=NAME_MAX)))
    language = fields.List(
        fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    )
    tag = fields.List(fields.String(validate=FullMatch(TAG)))


class PolicyIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    calendar = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    targets = fields.Nested(TargetsIn, required=True)
    conditions = fields.Nested(ConditionsIn, load_default=dict)
    pause_on_hold = fields.Boolean(load_default=False)
    warn_fraction = fields.Float(
        load_default=0.8, validate=validate.Range(min=0, max=1, min_inclusive=False)
    )
    escalate_on_breach = fields.Boolean(load_default=False)
    raise_priority_on_breach = fields.Boolean(load_default=False)


class PoliciesIn(Schema):
    policies = fields.List(
        fields.Nested(PolicyIn), required=True, validate=validate.Length(max=MAX_POLICIES)
    )


class CalendarQueryIn(Schema):
    revision = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**31 - 1))


# The window (from, to, their defaults and limits) is every report's: schemas/reports.py.


class BreachesQueryIn(ReportWindowIn):
    metric = fields.String(validate=validate.OneOf(METRICS))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))


class SlaReportQueryIn(ReportWindowIn):
    period = fields.String(load_default="day", validate=validate.OneOf(PERIODS))


# Shapes the resource builds by hand, written down for the OpenAPI document.


class CalendarOut(Schema):
    class Meta:
        unknown = INCLUDE  # the revision's fields, as PUT took them

    name = fields.String(required=True)
    timezone = fields.String(required=True)
    version = fields.Integer(required=True)
    revision = fields.Integer(required=True)
    updated_at = fields.AwareDateTime(required=True)


class PoliciesOut(Schema):
    version = fields.Integer(required=True)
    policies = Plain(Policy, many=True, required=True)


class TicketSlaOut(Schema):
    ticket_id = fields.UUID(required=True)
    policy = Plain(AppliedPolicy, required=True, allow_none=True)
    timers = Plain(Timer, many=True, required=True)


class BreachOut(OutSchema):
    ticket_id = uuid_text()
    metric = one_of(METRICS)
    cycle = fields.Integer()
    policy = fields.String(allow_none=True)
    target = fields.Integer()
    state = one_of(("running", "paused", "fulfilled", "stopped"))
    started_at = instant_text()
    due_at = instant_text(allow_none=True)
    breached_at = instant_text()


class BreachesOut(Schema):
    items = fields.List(fields.Nested(BreachOut), required=True)
    next_cursor = next_cursor_field()


class SlaReportOut(Schema):
    from_ = fields.String(data_key="from", required=True)
    to = fields.String(required=True)
    period = fields.String(required=True)
    groups = fields.List(fields.Dict(), required=True)
