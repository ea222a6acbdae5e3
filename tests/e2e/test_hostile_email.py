"""Hostile email through the real server: a message built to make the parser work for
minutes is read up to the bounds, still opens a ticket with what could be read, and says
what was left out."""

from __future__ import annotations

import uuid

import pytest

from tests import hostile_inputs as hostile
from tests.e2e.api import Api
from tests.e2e.test_intake import post_email, received


def _hostile(sender: str, *, words: int, parts: int) -> bytes:
    subject = " ".join(["=?utf-8?q?a?="] * words)
    body = "".join(f"--B\r\nContent-Type: text/plain\r\n\r\nparte {n}\r\n" for n in range(parts))
    return (
        f"From: {sender}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=B\r\n\r\n{body}--B--\r\n"
    ).encode()


@pytest.mark.parametrize(("words", "parts"), [(50_000, 1), (1, 20_000)], ids=["words", "parts"])
def test_an_email_beyond_the_parser_bounds_still_opens_a_ticket_saying_what_was_dropped(
    api: Api, words, parts
):
    sender = f"hostil-{uuid.uuid4().hex[:8]}@example.com"
    doc = received(post_email(api, _hostile(sender, words=words, parts=parts)), 201, "opened")
    ticket = api.get(f"/v1/tickets/{doc['id']}").json()
    assert ticket["requester"]["email"] == sender
    assert ticket["description"].startswith("parte 0")
    assert "[Atende: not kept from this email: " in ticket["description"]
    assert len(ticket["subject"]) <= 200


@pytest.mark.parametrize("build", hostile.EMAILS.values(), ids=list(hostile.EMAILS))
def test_every_hostile_shape_at_the_size_limit_opens_a_ticket_from_its_sender(api: Api, build):
    sender = f"hostil-{uuid.uuid4().hex[:8]}@example.com"
    raw = build().replace(b"ana@example.com", sender.encode(), 1)
    assert len(raw) <= hostile.EMAIL_LIMIT
    doc = received(post_email(api, raw), 201, "opened")
    ticket = api.get(f"/v1/tickets/{doc['id']}").json()
    assert ticket["requester"]["email"] == sender
    assert len(ticket["description"].encode()) <= 64 * 1024


@pytest.mark.parametrize(
    "field",
    [b"Content-Type: text/plain;e*", b'Content-type:"";e*', b"Content-Disposition: inline;e*"],
)
def test_a_mime_value_the_stdlib_parser_crashes_on_still_opens_a_ticket(api: Api, field: bytes):
    # CPython 3.11's header parser raises IndexError on a parameter ending in "*": the
    # mail was a 500 and was lost; it is read as text, as the parameter were not there.
    sender = f"hostil-{uuid.uuid4().hex[:8]}@example.com"
    raw = b"From: %s\r\n%s\r\n\r\nSin internet desde ayer.\r\n" % (sender.encode(), field)
    doc = received(post_email(api, raw), 201, "opened")
    assert doc["requester"]["email"] == sender
    assert doc["description"] == "Sin internet desde ayer."
