"""marshmallow schemas for surveys and the satisfaction and performance reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from domain.survey import MAX_COMMENT_CHARS, RATINGS
from interface.schemas import no_control_characters
from projections.reports import GROUPS

DEFAULT_DAYS = 30
MAX_RANGE_DAYS = 3 * 366  # a day-by-day report over longer is not a report


class SurveyAnswerIn(Schema):
    # strict: "4" and 4.0 are not ratings; the customer's form sends a number.
    rating = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=RATINGS.start, max=RATINGS.stop - 1),
    )
    comment = fields.String(
        allow_none=True,
        validate=[validate.Length(max=MAX_COMMENT_CHARS), no_control_characters],
    )


class DateRangeIn(Schema):
    """``from`` and ``to`` are days (YYYY-MM-DD, UTC), both included; by default the
    last 30 days up to today."""

    from_ = fields.Date(data_key="from")
    to = fields.Date()
    after_position = fields.Integer(validate=validate.Range(min=0))

    @post_load
    def defaults(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        today = datetime.now(UTC).date()
        end: date = data.get("to") or today
        data["to"] = end
        data.setdefault("from_", end - timedelta(days=DEFAULT_DAYS - 1))
        if data["from_"] > end:
            raise ValidationError("Must not be after to.", "from")
        # Checked after the defaults: a far ``from`` alone spans up to today.
        if (end - data["from_"]).days >= MAX_RANGE_DAYS:
            raise ValidationError(f"The range may span at most {MAX_RANGE_DAYS} days.", "from")
        return data


class SatisfactionQueryIn(DateRangeIn):
    group_by = fields.String(load_default="day", validate=validate.OneOf(GROUPS))
