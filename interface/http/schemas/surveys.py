"""marshmallow schemas of the survey routes (resources/surveys.py): the customer's
answer, the page their link shows, and a ticket's survey."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.survey import MAX_COMMENT_CHARS, RATINGS
from interface.http.schemas.common import WholeNumber, no_control_characters


class SurveyAnswerIn(Schema):
    # "4" and true are not ratings (4.0 is: the same JSON number as 4).
    rating = WholeNumber(
        required=True, validate=validate.Range(min=RATINGS.start, max=RATINGS.stop - 1)
    )
    comment = fields.String(
        allow_none=True,
        validate=[validate.Length(max=MAX_COMMENT_CHARS), no_control_characters],
    )


# Shapes the resource builds by hand, written down for the OpenAPI document.


class SurveyPageOut(Schema):
    """What the customer's survey link shows (and, after an answer, its position)."""

    ticket = fields.Dict(required=True)
    language = fields.String(required=True)
    question = fields.String(required=True)
    scale = fields.Dict(required=True)
    status = fields.String(required=True)
    rating = fields.Integer(required=True, allow_none=True)
    comment = fields.String(required=True, allow_none=True)
    expires_at = fields.AwareDateTime(required=True)
    position = fields.Integer()


class TicketSurveyOut(Schema):
    id = fields.UUID(required=True)
    ticket_id = fields.UUID(required=True)
    status = fields.String(required=True)
    issued_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    language = fields.String(required=True)
    agent_id = fields.String(required=True, allow_none=True)
    rating = fields.Integer(required=True, allow_none=True)
    rated_at = fields.AwareDateTime(required=True, allow_none=True)
    token = fields.String()  # for admins and integrators, who send the link
    link = fields.String()
