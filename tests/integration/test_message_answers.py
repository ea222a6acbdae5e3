"""A ticket's messages in its answers (interface/http/schemas/tickets.py's Messages) are
written by ``plain`` rather than by a nested MessageOut per message: held here to exactly
what MessageOut dumps, for messages of every kind, on real SQLite and PostgreSQL (their
personal values sealed and deciphered as served, and erased)."""

from __future__ import annotations

import uuid

from marshmallow import fields

from domain.message_log import MESSAGE_FIELDS
from interface.http.schemas.common import OutSchema
from interface.http.schemas.tickets import _MESSAGE_KEYS, MessageOut, Messages
from tests.integration.builders import AGENT
from tests.integration.test_audit import _thread_of_every_kind
from tests.integration.test_erasure_views_and_identities import erase


class NestedMessages(OutSchema):
    """The way messages were written before: one nested MessageOut each."""

    messages = fields.List(fields.Nested(MessageOut))


def _both(messages) -> tuple:
    return Messages().serialize("messages", {"messages": messages}), NestedMessages().dump(
        {"messages": messages}
    )["messages"]


def test_every_field_a_stored_message_has_is_written_plainly():
    assert set(MESSAGE_FIELDS) <= set(_MESSAGE_KEYS)
    # Only what a read adds after the dump is left to a nested schema.
    assert set(MessageOut._declared_fields) - set(_MESSAGE_KEYS) == {"delivery"}


def test_messages_of_every_kind_are_written_as_message_out_dumps_them(atende):
    tid = _thread_of_every_kind(atende)
    cited = uuid.uuid4()
    atende.tickets.change(
        tid,
        lambda t: t.add_message(
            "Vea el artículo", "agent", "ag7", "public", None, AGENT, articles=[str(cited)]
        ),
    )
    messages = atende.tickets.get_ticket(tid).messages
    assert len(messages) >= 4
    written, nested = _both(messages)
    assert written == nested
    assert {key for m in written for key in m} == set(MESSAGE_FIELDS)
    assert any(m["articles"] == [str(cited)] for m in written)
    assert any(m["attachments"] for m in written) and any(m["outbound"] for m in written)


def test_erased_messages_are_written_as_message_out_dumps_them(atende):
    tid = _thread_of_every_kind(atende)
    erase(atende, atende.tickets.get_ticket(tid).customer_id)
    written, nested = _both(atende.tickets.get_ticket(tid).messages)
    assert written == nested
    assert {m["body"] for m in written} == {"[erased]"}


def test_a_message_stored_before_a_field_existed_is_written_without_it():
    old = {"id": uuid.uuid4(), "body": "hola", "author_type": "customer", "author_id": None,
           "visibility": "public", "channel": "web"}  # fmt: skip
    written, nested = _both([old])
    assert written == nested == [{**old, "id": str(old["id"])}]
