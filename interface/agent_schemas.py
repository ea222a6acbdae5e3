"""marshmallow schemas for agents, intake and customers."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.customer import ANONYMOUS_CHANNELS
from domain.routing import AVAILABILITIES
from domain.ticket_vocabulary import PRIORITIES
from interface.schemas import (
    BCP47,
    CONTACT_FIELDS,
    NAME_MAX,
    PHONE,
    SUBJECT_MAX,
    FullMatch,
    Plain,
    _long_text,
    _short_text,
    _tag_list,
)

MAX_LANGUAGES = 20
MAX_SKILLS = 50
MAX_CAPACITY = 1000


def _languages(**kwargs: Any) -> fields.List:
    tag = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    return fields.List(tag, validate=validate.Length(min=1, max=MAX_LANGUAGES), **kwargs)


def _skills(**kwargs: Any) -> fields.List:
    skill = _short_text(NAME_MAX)
    return fields.List(skill, validate=validate.Length(max=MAX_SKILLS), **kwargs)


def _capacity(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_CAPACITY), **kwargs)


class AgentIn(Schema):
    name = _short_text(NAME_MAX, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    languages = _languages(required=True)
    skills = _skills(load_default=list)
    generalist = fields.Boolean(load_default=False)
    capacity = _capacity(load_default=5)


class AvailabilityIn(Schema):
    availability = fields.String(required=True, validate=validate.OneOf(AVAILABILITIES))


class LanguagesIn(Schema):
    languages = _languages(required=True)


class SkillsIn(Schema):
    skills = _skills(required=True)
    generalist = fields.Boolean()


class CapacityIn(Schema):
    capacity = _capacity(required=True)


class AgentsQueryIn(Schema):
    availability = fields.String(validate=validate.OneOf(AVAILABILITIES))
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    skill = _short_text(NAME_MAX)
    active = fields.Boolean()
    after_position = fields.Integer(validate=validate.Range(min=0))


class AgentOut(Schema):
    id = fields.String()
    name = fields.String()
    email = fields.String()
    languages = fields.List(fields.String())
    skills = fields.List(fields.String())
    generalist = fields.Boolean()
    capacity = fields.Integer()
    availability = fields.String()
    active = fields.Boolean()
    load = fields.Integer()  # only in lists, which come from the routing view
    version = fields.Integer()
    position = fields.Integer()


class AssignIn(Schema):
    agent_id = fields.UUID(required=True)
    force = fields.Boolean(load_default=False)


class LanguageIn(Schema):
    language = fields.String(
        required=True, validate=FullMatch(BCP47, error="Not a BCP 47 language tag.")
    )


# Intake


class CustomerIn(Schema):
    name = _short_text(NAME_MAX)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=FullMatch(PHONE, error="Not a valid phone number."))
    external_id = _short_text(NAME_MAX)
    handle = _short_text(NAME_MAX)


class IntakeIn(Schema):
    """A contact on a non-email channel, normalized by the integration that received it."""

    conversation_id = _short_text(NAME_MAX)
    message_id = _short_text(NAME_MAX)
    # Optional on chat and web: an anonymous visitor is known by the conversation alone.
    customer = fields.Nested(CustomerIn, load_default=dict)
    network = _short_text(50)  # social: whatsapp, instagram, facebook, x...
    subject = _short_text(SUBJECT_MAX)
    text = _long_text(required=True)
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))
    category = _short_text(NAME_MAX)
    tags = _tag_list(load_default=list)

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


class IntakeOut(Schema):
    outcome = fields.String()
    channel = fields.String()
    message_id = fields.String(allow_none=True)


class AttachmentOut(Schema):
    filename = Plain(allow_none=True)
    content_type = fields.String()
    size = fields.Integer()
