"""marshmallow schemas of the token routes (resources/tokens.py): issuing a token,
rotating one, and a token as it leaves (its secret only when just made)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.actor import ROLES
from infrastructure.settings import parse_duration
from interface.http.schemas.common import NAME_MAX, short_text

NEVER = "never"


def _duration(value: str) -> None:
    try:
        parse_duration(value, "the duration")
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _expiry(value: str) -> None:
    if value != NEVER:
        _duration(value)


def _grace(value: str) -> None:
    if value != "0":
        _duration(value)


class TokenIn(Schema):
    name = short_text(NAME_MAX, required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    agent_id = fields.UUID(load_default=None)
    on_behalf = fields.Boolean(load_default=False)
    # How long it lives: a duration (90d, 12h, 30m), or "never"; or an instant.
    # Neither: the deployment's default (ATENDE_TOKEN_DEFAULT_EXPIRY, unset: never).
    expires_in = fields.String(validate=[validate.Length(max=20), _expiry])
    expires_at = fields.AwareDateTime()

    @validates_schema
    def _one_expiry(self, data: dict[str, Any], **_: Any) -> None:
        if "expires_in" in data and "expires_at" in data:
            raise ValidationError("Give expires_in or expires_at, not both.", "expires_at")


class RotateIn(Schema):
    # How long the old secret keeps working: a duration, or "0" for not at all.
    grace = fields.String(validate=[validate.Length(max=20), _grace])


class TokenOut(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    agent_id = fields.String(allow_none=True)
    on_behalf = fields.Boolean()
    created_at = fields.String()
    expires_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)
    legacy = fields.Boolean()
    status = fields.String()


class IssuedTokenOut(TokenOut):
    token = fields.String(metadata={"description": "The secret: shown in this answer only."})


class TokenListOut(Schema):
    items = fields.List(fields.Nested(TokenOut))
