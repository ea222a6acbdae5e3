"""marshmallow schemas of the token routes (resources/tokens.py): issuing a token,
rotating one, and a token as it leaves (its secret only when just made)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from domain.actor import ROLES
from infrastructure.settings import DURATION_PATTERN, parse_duration
from interface.http.schemas.common import NAME_MAX, OutSchema, one_of, short_text, uuid_text

NEVER = "never"  # expires_in: the token does not expire
NO_GRACE = "0"  # grace: the old secret stops at once


def expiry_in(text: str) -> timedelta | None:
    """An ``expires_in`` text as the token's lifetime (None: it never expires); raises
    ValueError for anything else. The CLI's --expires-in reads the same way."""
    return None if text == NEVER else parse_duration(text, "expires_in")


def grace_of(text: str) -> timedelta:
    """A rotation's ``grace`` text as a duration; raises ValueError for anything else.
    The CLI's --grace reads the same way."""
    return timedelta(0) if text == NO_GRACE else parse_duration(text, "grace")


def _readable_by(convert: Callable[[str], Any]) -> Callable[[str], None]:
    def check(value: str) -> None:
        try:
            convert(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    return check


class TokenIn(Schema):
    class Meta:
        # What ApiTokens.create refuses, as the document states it: both expiries; an
        # agent token without its agent, or another role's with one; on_behalf on a role
        # other than integrator.
        openapi = {
            "not": {"required": ["expires_in", "expires_at"]},
            "allOf": [
                {
                    "if": {"required": ["role"], "properties": {"role": {"const": "agent"}}},
                    "then": {
                        "required": ["agent_id"],
                        "properties": {"agent_id": {"type": "string"}},
                    },
                    "else": {"properties": {"agent_id": {"type": "null"}}},
                },
                {
                    "if": {"not": {"properties": {"role": {"const": "integrator"}}}},
                    "then": {"properties": {"on_behalf": {"const": False}}},
                },
            ],
        }

    name = short_text(NAME_MAX, required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    agent_id = fields.UUID(load_default=None)
    on_behalf = fields.Boolean(load_default=False)
    # How long it lives: a duration (90d, 12h, 30m), or "never"; or an instant.
    # Neither: the deployment's default (ATENDE_TOKEN_DEFAULT_EXPIRY, unset: never).
    expires_in = fields.String(
        validate=[validate.Length(max=20), _readable_by(expiry_in)],
        metadata={"pattern": f"{DURATION_PATTERN}|^{NEVER}$"},
    )
    expires_at = fields.AwareDateTime()

    @validates_schema
    def _one_expiry(self, data: dict[str, Any], **_: Any) -> None:
        if "expires_in" in data and "expires_at" in data:
            raise ValidationError("Give expires_in or expires_at, not both.", "expires_at")

    @post_load
    def _as_arguments(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The body as ApiTokens.create's keyword arguments."""
        if data["agent_id"] is not None:
            data["agent_id"] = str(data["agent_id"])
        if "expires_in" in data:
            data["never_expires"] = data["expires_in"] == NEVER
            data["expires_in"] = expiry_in(data["expires_in"])
        return data


class RotateIn(Schema):
    # How long the old secret keeps working: a duration, or "0" for not at all.
    grace = fields.String(
        validate=[validate.Length(max=20), _readable_by(grace_of)],
        metadata={"pattern": f"{DURATION_PATTERN}|^{NO_GRACE}$"},
    )

    @post_load
    def _as_arguments(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The body as ApiTokens.rotate's keyword arguments (no grace: its default)."""
        if "grace" in data:
            data["grace"] = grace_of(data["grace"])
        return data


class TokenOut(OutSchema):
    """A token as it leaves (application.tokens.TokenRecord), never its secret."""

    id = fields.UUID()
    name = fields.String()
    role = one_of(ROLES)
    agent_id = uuid_text(allow_none=True)
    on_behalf = fields.Boolean()
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime(allow_none=True)
    last_used_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)
    legacy = fields.Boolean()
    status = one_of(("active", "expired", "revoked"))


class IssuedTokenOut(TokenOut):
    token = fields.String(metadata={"description": "The secret: shown in this answer only."})


class TokenListOut(Schema):
    items = fields.List(fields.Nested(TokenOut), required=True)
