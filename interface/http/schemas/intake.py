"""marshmallow schemas of the intake routes (resources/intake.py): a contact on a
non-email channel, and what the answer adds to the ticket (how the contact was taken)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.customer import ANONYMOUS_CHANNELS
from domain.ticket_vocabulary import CHANNELS, PRIORITIES, SUBJECT_MAX
from interface.http.schemas.common import (
    BCP47,
    CONTACT_FIELDS,
    NAME_MAX,
    PHONE,
    FullMatch,
    OutSchema,
    long_text,
    one_of,
    short_text,
    tag_list,
)
from interface.http.schemas.tickets import TicketOut


class CustomerIn(Schema):
    name = short_text(NAME_MAX)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=FullMatch(PHONE, error="Not a valid phone number."))
    external_id = short_text(NAME_MAX)
    handle = short_text(NAME_MAX)


class IntakeIn(Schema):
    """A contact on a non-email channel, normalized by the integration that received it."""

    conversation_id = short_text(NAME_MAX)
    message_id = short_text(NAME_MAX)
    # Optional on chat and web: an anonymous visitor is known by the conversation alone.
    customer = fields.Nested(CustomerIn, load_default=dict)
    network = short_text(50)  # social: whatsapp, instagram, facebook, x...
    subject = short_text(SUBJECT_MAX)
    text = long_text(required=True)
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))
    category = short_text(NAME_MAX)
    tags = tag_list(load_default=list)

    @validates_schema
    def channel_requirements(self, data: dict[str, Any], **_: Any) -> None:
        channel = self.context_channel
        customer = data.get("customer") or {}
        if channel in ("chat", "social", "phone") and not data.get("conversation_id"):
            raise ValidationError(
                f"A {channel} contact needs its conversation id.", "conversation_id"
            )
        if channel == "social":
            if not customer.get("handle"):
                raise ValidationError(
                    "A social contact needs the customer's handle.", "customer.handle"
                )
            if not data.get("network"):
                raise ValidationError("Name the social network.", "network")
        if channel == "phone" and not customer.get("phone"):
            raise ValidationError("A phone contact needs the caller's number.", "customer.phone")
        if any(customer.get(k) for k in CONTACT_FIELDS):
            return
        if channel in ANONYMOUS_CHANNELS and data.get("conversation_id"):
            return  # an anonymous visitor: the conversation is their identity
        # Social and phone contacts were refused above without their handle or number.
        raise ValidationError(
            "Give at least one of email, phone, external_id or handle, "
            "or the conversation_id of an anonymous visitor.",
            "customer",
        )

    context_channel = "chat"


def intake_schema(channel: str) -> IntakeIn:
    schema = IntakeIn()
    schema.context_channel = channel
    return schema


# Dump side.


class IntakeOut(OutSchema):
    # bounced / delay_reported: a delivery report about an email Atende sent (the ticket
    # it was for; nothing of the ticket changed).
    outcome = one_of(
        ("opened", "appended", "followed_up", "duplicate", "bounced", "delay_reported")
    )
    channel = one_of(CHANNELS)
    message_id = fields.String(allow_none=True)


# A shape the resource builds by hand, written down for the OpenAPI document.


class IntakeTicketOut(TicketOut):
    intake = fields.Nested(IntakeOut, required=True)
