"""What several resources' schemas share: the text, tag and language rules of fields,
event data as JSON (``plain``), the problem body every error answers with, and a time range.

Unknown fields are rejected (marshmallow's default, RAISE) so typos never pass silently.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any
from uuid import UUID

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from domain.actor import Actor
from domain.personal import Personal
from domain.ticket_vocabulary import CHANNELS, PRIORITIES, STATUSES, TEXT_LIMIT_BYTES

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


def not_blank(value: str) -> None:
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
    not_blank(value)
    no_control_characters(value)
    if len(value.encode("utf-8")) > TEXT_LIMIT_BYTES:
        raise ValidationError(f"Must be at most {TEXT_LIMIT_BYTES} bytes of UTF-8.")


def _ranges_of(test: Any) -> str:
    """The basic plane's characters ``test`` holds for, as regex ranges (``\\u200b-\\u200f``)."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF or not test(chr(code)):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(
        f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges
    )


# The text rules above as patterns the OpenAPI document can state (it cannot call a
# function): what each refuses, and "not blank" as one character that is neither white
# space (spelled out: \\s differs between regex dialects), a control nor an invisible
# format character. Lone surrogates and astral-plane format characters are left out: a
# pattern naming surrogates is one generators cannot read, and no JSON text holds them.
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f"
_CONTROLS_BUT_LINES = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
_INVISIBLE = _ranges_of(lambda ch: ch.isspace() or unicodedata.category(ch) == "Cf")
_VISIBLE = f"[^{_CONTROLS}{_INVISIBLE}]"


def text_pattern(field: fields.Field) -> str | None:
    """The pattern a string field's text rules amount to, if it has any."""
    rules = set(field.validators)
    if _text_up_to_64k in rules:
        rules |= {not_blank, no_control_characters}
    allowed = (
        _CONTROLS if one_line in rules
        else _CONTROLS_BUT_LINES if no_control_characters in rules
        else None
    )  # fmt: skip
    if allowed is None:
        return None
    if not_blank in rules:
        return f"^[^{allowed}]*{_VISIBLE}[^{allowed}]*$"
    return f"^[^{allowed}]*$"


class WholeNumber(fields.Integer):
    """An integer as JSON Schema means one: 780 and 780.0 (the same number in JSON), never
    "780" nor true (marshmallow's strict Integer refuses 780.0 and takes true)."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


def short_text(maximum: int, **kwargs: Any) -> fields.String:
    checks = [validate.Length(min=1, max=maximum), not_blank, one_line]
    return fields.String(validate=checks, **kwargs)


def long_text(**kwargs: Any) -> fields.String:
    return fields.String(validate=_text_up_to_64k, **kwargs)


def tag_list(**kwargs: Any) -> fields.List:
    tag = fields.String(validate=[validate.Length(min=1, max=50), FullMatch(TAG)])
    return fields.List(tag, validate=validate.Length(max=MAX_TAGS), **kwargs)


# The fields that identify a requester on any channel; a conversation does only on some.
CONTACT_FIELDS = ("email", "phone", "external_id", "handle")


class EmptyIn(Schema):
    """For commands that take no fields (a ticket's unassign and close, an agent's
    deactivate and reactivate): anything given is unknown."""


# What ``plain`` gives back as it is: most of what an answer holds (a ticket's messages are
# mostly text and nulls), so they are told by one lookup of their exact type before the
# checks below, which cost a ticket of 25 messages a third of its rendering (issue 19).
_AS_IT_IS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """Event data as JSON: personal values as their (decrypted or erased) text."""
    if type(value) in _AS_IT_IS:
        return value
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
    """A value as JSON (``plain``). ``shown_as`` is what the OpenAPI document says it is:
    a schema (shown as its component; ``many``: a list of them) or a JSON Schema."""

    def __init__(
        self,
        shown_as: type[Schema] | dict[str, Any] | None = None,
        *,
        many: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.shown_as = shown_as
        self.many = many

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return plain(value)


PERSONAL_TEXT = {
    "type": "string",
    "description": "Personal: reads `[erased]` after the customer's erasure.",
    "x-personal": True,
}


class OutSchema(Schema):
    """An answer's shape. Every field is always in the answer, so the OpenAPI document
    lists them all as required (generated clients type them as present), but those the
    subclass names in ``Meta.sometimes``. Answers are only dumped: ``required`` changes
    nothing else."""

    class Meta:
        sometimes: tuple[str, ...] = ()

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.required = field_name not in getattr(self.Meta, "sometimes", ())


class ProblemOut(Schema):
    """RFC 9457 problem details; some problems add members (ticket_id, policies...)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def next_cursor_field() -> fields.String:
    """A page's ``next_cursor``: null on the last page."""
    return fields.String(required=True, allow_none=True)


class InstantRangeIn(Schema):
    """Instants with offsets, each end optional (a ticket's history, an audit export)."""

    from_ = fields.AwareDateTime(data_key="from")
    to = fields.AwareDateTime()

    @validates_schema
    def in_order(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start is not None and end is not None and start > end:
            raise ValidationError("Must not be after to.", "from")


def uuid_text(**kwargs: Any) -> fields.String:
    """An id a view keeps as text: dumped as it is, documented as a uuid."""
    return fields.String(metadata={"format": "uuid"}, **kwargs)


def instant_text(**kwargs: Any) -> fields.String:
    """An instant a view keeps as ISO-8601 text: dumped as it is, documented as date-time."""
    return fields.String(metadata={"format": "date-time"}, **kwargs)


def one_of(choices: tuple[str, ...], **kwargs: Any) -> fields.String:
    """A value from a vocabulary: on an answer, documented as its (named) enum."""
    return fields.String(validate=validate.OneOf(choices), **kwargs)


def hidden_from_analysts() -> fields.String:
    """A personal text of a list item, left out for roles that may not read personal data."""
    description = PERSONAL_TEXT["description"] + " Absent for analysts, who may not read it."
    return fields.String(metadata={**PERSONAL_TEXT, "description": description})


class TicketSummaryOut(OutSchema):
    """What every list of tickets shows of each (the queue, the ticket list)."""

    class Meta:
        sometimes: tuple[str, ...] = ("subject",)

    id = uuid_text()
    number = fields.Integer()
    subject = hidden_from_analysts()
    status = one_of(STATUSES)
    priority = one_of(PRIORITIES)
    channel = one_of(CHANNELS)
    language = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    assignee = uuid_text(allow_none=True)
