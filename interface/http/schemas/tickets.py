"""marshmallow schemas of the ticket routes (resources/tickets.py): opening a ticket,
each command's body (assign, messages, status...), the list's query, an as-of read and a
history range, and the ticket as it leaves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from domain.customer import ANONYMOUS_CHANNELS, conversation_identity
from domain.ticket import Ticket
from domain.ticket_vocabulary import (
    AUTHOR_TYPES,
    CHANNELS,
    PRIORITIES,
    SETTABLE_STATUSES,
    STATUSES,
    SUBJECT_MAX,
    VISIBILITIES,
)
from infrastructure.ticket_numbers import MAX_NUMBER
from interface.events.catalogue import union_name
from interface.events.data import Attachment, LanguageSource, Outbound, Requester
from interface.http.schemas.common import (
    BCP47,
    CONTACT_FIELDS,
    NAME_MAX,
    PERSONAL_TEXT,
    PHONE,
    FullMatch,
    InstantRangeIn,
    OutSchema,
    Plain,
    TicketSummaryOut,
    WholeNumber,
    instant_text,
    long_text,
    next_cursor_field,
    not_blank,
    one_line,
    one_of,
    plain,
    short_text,
    tag_list,
    uuid_text,
)
from interface.http.schemas.events import CataloguedEvent

MAX_CITED_ARTICLES = 10

# A little slack for clocks: "now" on the client may be a moment ahead of the server.
FUTURE_SLACK_SECONDS = 5


class RequesterIn(Schema):
    name = short_text(NAME_MAX, required=True)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=FullMatch(PHONE, error="Not a valid phone number."))
    external_id = short_text(NAME_MAX)
    handle = short_text(NAME_MAX)
    # A chat or web visitor's conversation (ANONYMOUS_CHANNELS): enough on its own.
    conversation_id = short_text(NAME_MAX)


class OpenTicketIn(Schema):
    class Meta:
        # requester_is_known, as the document states it: with a conversation, a chat or
        # web channel; without one, a contact. (Rules are written with if/then and not,
        # never anyOf, which generators turn into a union of body types.)
        openapi = {
            "if": {"properties": {"requester": {"required": ["conversation_id"]}}},
            "then": {"properties": {"channel": {"enum": list(ANONYMOUS_CHANNELS)}}},
            "else": {
                "properties": {
                    "requester": {"anyOf": [{"required": [f]} for f in CONTACT_FIELDS]}
                }
            },
        }

    subject = short_text(SUBJECT_MAX, required=True)
    description = long_text(required=True)
    requester = fields.Nested(RequesterIn, required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))
    category = short_text(NAME_MAX, allow_none=True)
    tags = tag_list(load_default=list)
    external_ref = short_text(NAME_MAX)
    # The suggestion_id of the help-centre suggestions the contact form showed first.
    kb_suggestion_id = fields.UUID()

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
    class Meta:
        # customers_write_in_public, as the document states it.
        openapi = {
            "not": {
                "required": ["author_type", "visibility"],
                "properties": {
                    "author_type": {"const": "customer"},
                    "visibility": {"const": "internal"},
                },
            }
        }

    body = long_text(required=True)
    author_type = fields.String(required=True, validate=validate.OneOf(AUTHOR_TYPES))
    author_id = short_text(NAME_MAX)
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    # Knowledge-base articles the message cites (issue 23): published ones, each once.
    articles = fields.List(fields.UUID(), validate=validate.Length(max=MAX_CITED_ARTICLES))

    @post_load
    def each_article_once(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "articles" in data:
            data["articles"] = list(dict.fromkeys(data["articles"]))
        return data

    @validates_schema
    def customers_write_in_public(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("author_type") == "customer" and data.get("visibility") == "internal":
            raise ValidationError("Internal notes are written by agents.", "visibility")


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(SETTABLE_STATUSES))


class PriorityIn(Schema):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))


class CategoryIn(Schema):
    category = short_text(NAME_MAX, required=True, allow_none=True)


class TagsIn(Schema):
    class Meta:
        # changes_something: not both add and remove empty (or absent).
        openapi = {
            "not": {"properties": {"add": {"maxItems": 0}, "remove": {"maxItems": 0}}}
        }

    add = tag_list(load_default=list)
    remove = tag_list(load_default=list)

    @validates_schema
    def changes_something(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("add") and not data.get("remove"):
            raise ValidationError("Give tags to add or to remove.")


class EscalateIn(Schema):
    reason = short_text(1000, required=True)
    level = WholeNumber(validate=validate.Range(min=1, max=10))


class ResolveIn(Schema):
    resolution = long_text()


class ReopenIn(Schema):
    reason = short_text(1000)


class AssignIn(Schema):
    agent_id = fields.UUID(required=True)
    force = fields.Boolean(load_default=False)


class LanguageIn(Schema):
    language = fields.String(
        required=True, validate=FullMatch(BCP47, error="Not a BCP 47 language tag.")
    )


class TicketListQueryIn(Schema):
    requester_email = fields.Email(validate=validate.Length(max=254))
    external_ref = short_text(NAME_MAX)
    status = fields.String(validate=validate.OneOf(STATUSES))
    q = fields.String(validate=[validate.Length(min=2, max=SUBJECT_MAX), not_blank, one_line])
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(min=1, max=1000))
    after_position = fields.Integer(validate=validate.Range(min=0))


class TicketReadQueryIn(Schema):
    """``as_of`` must carry an offset (Clarification 16) and not lie in the future."""

    as_of = fields.AwareDateTime()

    @validates("as_of")
    def not_in_the_future(self, value: datetime, **_: Any) -> None:
        if (value - datetime.now(UTC)).total_seconds() > FUTURE_SLACK_SECONDS:
            raise ValidationError("Must not be in the future.")


class HistoryQueryIn(InstantRangeIn):
    pass


def _fits_64_bits(value: str) -> None:
    # Beyond a 64-bit column no ticket has the number; the length is checked first, as
    # int() refuses thousands of digits.
    digits = value.isascii() and value.isdigit()
    if digits and (len(value) > len(str(MAX_NUMBER)) or int(value) > MAX_NUMBER):
        raise ValidationError(f"Must be at most {MAX_NUMBER}.")


class TicketNumberIn(Schema):
    """``{n}`` of ``/v1/tickets/by-number/{n}``: ASCII digits with no leading zero (int()
    would also take a sign, spaces, underscores and other scripts' digits)."""

    n = fields.String(
        required=True,
        validate=[
            FullMatch(r"[1-9][0-9]*", error="Must be a positive whole number (digits only)."),
            _fits_64_bits,
        ],
    )


# Dump side.


class EmailDeliveryOut(OutSchema):
    state = one_of(("delivered", "deferred", "failed", "bounced"))
    attempts = fields.Integer()
    answer = fields.String(metadata={"description": "The SMTP server's answer (or why none)."})
    at = fields.AwareDateTime()


class MessageOut(OutSchema):
    class Meta:
        # On GET /v1/tickets/{id} with ATENDE_SMTP_URL set, once an email carried it.
        sometimes = ("delivery",)

    id = fields.UUID()
    body = Plain(PERSONAL_TEXT)
    author_type = one_of(AUTHOR_TYPES)
    author_id = uuid_text(allow_none=True)
    visibility = one_of(VISIBILITIES)
    channel = one_of(CHANNELS)
    created_at = fields.AwareDateTime()
    attachments = Plain(Attachment, many=True)
    external_id = fields.String(allow_none=True)
    outbound = Plain(Outbound, allow_none=True)  # an agent's public reply: where to send it
    articles = fields.List(fields.UUID())
    delivery = fields.Nested(EmailDeliveryOut)


# MessageOut's fields that ``plain`` writes exactly as the field would (text, ids, instants,
# plain JSON): every field a stored message has (tests/integration/test_message_answers.py).
_PLAINLY_WRITTEN = (Plain, fields.String, fields.UUID, fields.AwareDateTime)
_MESSAGE_KEYS = tuple(
    name
    for name, field in MessageOut._declared_fields.items()
    if isinstance(field, _PLAINLY_WRITTEN)
    or (isinstance(field, fields.List) and isinstance(field.inner, _PLAINLY_WRITTEN))
)


class Messages(Plain):
    """A ticket's messages, each as MessageOut dumps it, and documented as a list of
    MessageOut. Written with ``plain`` instead of a nested schema per message: marshmallow
    runs each field of each message through its dispatch, 17 µs a message, so an answer
    about a ticket of 200 messages spent 3.6 ms on them (issue 19); this takes half that,
    most of it deciphering the bodies. A key a message does not have is left out, as the
    nested schema leaves it (tests/integration/test_message_answers.py holds the two
    equal)."""

    def __init__(self) -> None:
        super().__init__(MessageOut, many=True)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return [{key: plain(m[key]) for key in _MESSAGE_KEYS if key in m} for m in value]


class EscalationOut(Schema):
    level = fields.Integer(required=True, metadata={"description": "1, 2, ..."})
    reason = fields.String(required=True)
    at = fields.AwareDateTime(required=True)


class TicketOut(OutSchema):
    id = fields.UUID()
    number = fields.Integer()
    subject = Plain(PERSONAL_TEXT)
    description = Plain(PERSONAL_TEXT)
    requester = Plain(Requester)
    customer_id = fields.UUID()
    channel = one_of(CHANNELS)
    language = fields.String(allow_none=True)
    priority = one_of(PRIORITIES)
    category = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    external_ref = fields.String(allow_none=True)
    status = one_of(STATUSES)
    assignee = uuid_text(allow_none=True)
    escalation = Plain(EscalationOut, allow_none=True)
    resolution = Plain(PERSONAL_TEXT, allow_none=True)
    messages = Messages()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    resolved_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    language_source = Plain(LanguageSource, allow_none=True)
    follow_up_of = fields.UUID(allow_none=True)
    attachments = Plain(Attachment, many=True)
    survey_id = fields.UUID(allow_none=True)  # the latest resolution's survey
    pending_since = fields.AwareDateTime(allow_none=True)
    version = fields.Integer()
    position = fields.Integer()


class TicketReadOut(TicketOut):
    class Meta:
        sometimes = ("as_of",)

    as_of = fields.AwareDateTime()  # present when the ticket was read ?as_of=


class TicketListItemOut(TicketSummaryOut):
    external_ref = fields.String(allow_none=True)
    customer_id = uuid_text()
    created_at = instant_text()
    updated_at = instant_text()
    resolved_at = instant_text(allow_none=True)
    closed_at = instant_text(allow_none=True)


# Shapes the resources build by hand, written down for the OpenAPI document
# (tests/e2e/test_openapi_conformance.py checks the live answers against them).


class HistoryOut(Schema):
    ticket_id = fields.UUID(required=True)
    events = fields.List(CataloguedEvent(union_name(Ticket)), required=True)


class TicketListPageOut(Schema):
    items = fields.List(fields.Nested(TicketListItemOut), required=True)
    next_cursor = next_cursor_field()
