"""marshmallow schemas: one to load each request body, others to dump responses.

Unknown fields are rejected (marshmallow's default, RAISE) so typos never pass silently.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any
from uuid import UUID

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from domain.actor import Actor
from domain.customer import ANONYMOUS_CHANNELS, conversation_identity
from domain.personal import Personal
from domain.ticket_vocabulary import (
    AUTHOR_TYPES,
    CHANNELS,
    PRIORITIES,
    SETTABLE_STATUSES,
    STATUSES,
    SUBJECT_MAX,
    TEXT_LIMIT_BYTES,
    VISIBILITIES,
)
from projections.queue import ACTIVE as QUEUE_STATUSES

NAME_MAX = 200
MAX_TAGS = 20

# BCP 47 in the common shape: a 2-3 letter language, then optional script/region/variants.
BCP47 = (
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?"
    r"(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)
TAG = r"^[\w][\w:.-]*$"
PHONE = r"^\+?[0-9][0-9 ().-]{3,30}$"


class FullMatch(validate.Regexp):
    """A pattern the whole value must match: with re.match, ``$`` also matches before a
    trailing newline, so ``"vip\n"`` passed as a tag. Still a Regexp, so the OpenAPI
    document keeps the pattern."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def _not_blank(value: str) -> None:
    # Invisible format characters (zero-width spaces, bidi controls: category Cf) do not
    # make a subject any less blank.
    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in value):
        raise ValidationError("Must not be blank.")


# Unicode's Cc (C0, DEL, C1) and Cs (lone surrogates) categories, as one regex: searched in C,
# not character by character in Python (a 64 KiB description is on every ticket's path).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def one_line(value: str) -> None:
    _refuse(_CONTROL.search(value))


def no_control_characters(value: str) -> None:
    """C0 controls (NUL above all: PostgreSQL text cannot hold it), DEL, C1 controls and
    lone surrogates are refused; multi-line text keeps tab, newline and return."""
    _refuse(_CONTROL_BUT_LINES.search(value))


def _refuse(found: re.Match[str] | None) -> None:
    if found is not None:
        raise ValidationError(f"Must not contain the control character U+{ord(found[0]):04X}.")


def _text_up_to_64k(value: str) -> None:
    _not_blank(value)
    no_control_characters(value)
    if len(value.encode("utf-8")) > TEXT_LIMIT_BYTES:
        raise ValidationError(f"Must be at most {TEXT_LIMIT_BYTES} bytes of UTF-8.")


def _short_text(maximum: int, **kwargs: Any) -> fields.String:
    checks = [validate.Length(min=1, max=maximum), _not_blank, one_line]
    return fields.String(validate=checks, **kwargs)


def _long_text(**kwargs: Any) -> fields.String:
    return fields.String(validate=_text_up_to_64k, **kwargs)


def _tag_list(**kwargs: Any) -> fields.List:
    tag = fields.String(validate=[validate.Length(min=1, max=50), FullMatch(TAG)])
    return fields.List(tag, validate=validate.Length(max=MAX_TAGS), **kwargs)


# The fields that identify a requester on any channel; a conversation does only on some.
CONTACT_FIELDS = ("email", "phone", "external_id", "handle")


class RequesterIn(Schema):
    name = _short_text(NAME_MAX, required=True)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=FullMatch(PHONE, error="Not a valid phone number."))
    external_id = _short_text(NAME_MAX)
    handle = _short_text(NAME_MAX)
    # A chat or web visitor's conversation (ANONYMOUS_CHANNELS): enough on its own.
    conversation_id = _short_text(NAME_MAX)


class OpenTicketIn(Schema):
    subject = _short_text(SUBJECT_MAX, required=True)
    description = _long_text(required=True)
    requester = fields.Nested(RequesterIn, required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))
    category = _short_text(NAME_MAX, allow_none=True)
    tags = _tag_list(load_default=list)
    external_ref = _short_text(NAME_MAX)

    @validates_schema
    def requester_is_known(self, data: dict[str, Any], **_: Any) -> None:
        """Anonymity is for chat and web; elsewhere the channel's own identity counts."""
        requester, channel = data.get("requester") or {}, data.get("channel")
        if requester.get("conversation_id") and channel not in ANONYMOUS_CHANNELS:
            raise ValidationError(
                f"Only {' and '.join(ANONYMOUS_CHANNELS)} requesters are known by their "
                "conversation.",
                "requester.conversation_id",
            )
        if any(requester.get(k) for k in CONTACT_FIELDS) or requester.get("conversation_id"):
            return
        raise ValidationError(
            "Give at least one of email, phone, external_id or handle"
            + (", or a conversation_id." if channel in ANONYMOUS_CHANNELS else "."),
            "requester",
        )

    @post_load
    def conversation_as_identity(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # Scoped by the channel here, as intake scopes it, so the requester is a Contact.
        conversation_id = data["requester"].pop("conversation_id", None)
        if conversation_id is not None:
            conversation = conversation_identity(data["channel"], conversation_id)
            data["requester"]["conversation"] = conversation
        return data


class MessageIn(Schema):
    body = _long_text(required=True)
    author_type = fields.String(required=True, validate=validate.OneOf(AUTHOR_TYPES))
    author_id = _short_text(NAME_MAX)
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))

    @validates_schema
    def customers_write_in_public(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("author_type") == "customer" and data.get("visibility") == "internal":
            raise ValidationError("Internal notes are written by agents.", "visibility")


class EmptyIn(Schema):
    """For commands that take no fields (unassign, close): anything given is unknown."""


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(SETTABLE_STATUSES))


class PriorityIn(Schema):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))


class CategoryIn(Schema):
    category = _short_text(NAME_MAX, required=True, allow_none=True)


class TagsIn(Schema):
    add = _tag_list(load_default=list)
    remove = _tag_list(load_default=list)

    @validates_schema
    def changes_something(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("add") and not data.get("remove"):
            raise ValidationError("Give tags to add or to remove.")


class EscalateIn(Schema):
    reason = _short_text(1000, required=True)
    level = fields.Integer(strict=True, validate=validate.Range(min=1, max=10))


class ResolveIn(Schema):
    resolution = _long_text()


class ReopenIn(Schema):
    reason = _short_text(1000)


class EventsQuery(Schema):
    # Positions are 64-bit: a larger one cannot exist, and SQLite cannot even bind it.
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class QueueQueryIn(Schema):
    assignee = _short_text(NAME_MAX)
    unassigned = fields.Boolean()
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    category = _short_text(NAME_MAX)
    status = fields.String(validate=validate.OneOf(QUEUE_STATUSES))
    tag = fields.String(validate=[validate.Length(min=1, max=50), FullMatch(TAG)])
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))
    after_position = fields.Integer(validate=validate.Range(min=0))


# Dump side.


def plain(value: Any) -> Any:
    """Event data as JSON: personal values as their (decrypted or erased) text."""
    if isinstance(value, Personal):
        return value.text
    if isinstance(value, Actor):
        return value.as_dict()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Plain(fields.Field):
    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return plain(value)


class MessageOut(Schema):
    id = fields.UUID()
    body = Plain()
    author_type = fields.String()
    author_id = fields.String(allow_none=True)
    visibility = fields.String()
    channel = fields.String()
    created_at = fields.AwareDateTime()
    attachments = Plain()
    external_id = fields.String(allow_none=True)
    outbound = Plain(allow_none=True)  # an agent's public reply: where to send it


class TicketOut(Schema):
    id = fields.UUID()
    number = fields.Integer()
    subject = Plain()
    description = Plain()
    requester = Plain()
    customer_id = fields.UUID()
    channel = fields.String()
    language = fields.String(allow_none=True)
    priority = fields.String()
    category = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    external_ref = fields.String(allow_none=True)
    status = fields.String()
    assignee = fields.String(allow_none=True)
    escalation = Plain(allow_none=True)
    resolution = Plain(allow_none=True)
    messages = fields.List(fields.Nested(MessageOut))
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    resolved_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    language_source = Plain(allow_none=True)
    follow_up_of = fields.UUID(allow_none=True)
    attachments = Plain()
    survey_id = fields.UUID(allow_none=True)  # the latest resolution's survey
    pending_since = fields.AwareDateTime(allow_none=True)
    version = fields.Integer()
    position = fields.Integer()


class EventOut(Schema):
    position = fields.Integer()
    ticket_id = fields.UUID(allow_none=True)
    aggregate_type = fields.String()
    aggregate_id = fields.UUID()
    version = fields.Integer()
    type = fields.String()
    occurred_at = fields.AwareDateTime()
    actor = Plain()
    data = Plain()


class QueueItemOut(Schema):
    id = fields.String()
    number = fields.Integer()
    subject = fields.String()
    status = fields.String()
    priority = fields.String()
    channel = fields.String()
    language = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    requester_name = fields.String()
    created_at = fields.String()
    last_customer_message_at = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    sla_breached = fields.Boolean()
    sla_due_at = fields.String(allow_none=True)


class TicketListQueryIn(Schema):
    requester_email = fields.Email(validate=validate.Length(max=254))
    external_ref = _short_text(NAME_MAX)
    status = fields.String(validate=validate.OneOf(STATUSES))
    q = fields.String(validate=[validate.Length(min=2, max=SUBJECT_MAX), _not_blank, one_line])
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))
    after_position = fields.Integer(validate=validate.Range(min=0))


class CustomerTicketsQueryIn(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))
    after_position = fields.Integer(validate=validate.Range(min=0))


class TicketListItemOut(Schema):
    id = fields.String()
    number = fields.Integer()
    subject = fields.String()
    status = fields.String()
    priority = fields.String()
    channel = fields.String()
    language = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    external_ref = fields.String(allow_none=True)
    customer_id = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    resolved_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
