"""Event shapes carry versions: a shape that changes raises its class's version and adds
the upcaster eventsourcing's mapper runs on every older stored event."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.message_log import MESSAGE_FIELDS, complete_message
from domain.personal import Personal
from domain.ticket import Ticket, owned_attachments
from interface.events.catalogue import CATALOGUE


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: f"{e.aggregate_type}.{e.type}")
def test_every_version_of_a_shape_has_an_upcaster_from_the_one_before(entry) -> None:
    for version in range(1, entry.version):
        assert callable(getattr(entry.event_class, f"upcast_v{version}_v{version + 1}"))


@pytest.mark.parametrize("event_class", [Ticket.Opened, Ticket.MessageAdded])
def test_version_2_reads_a_version_1_event_s_missing_attachments_as_an_empty_list(
    event_class,
) -> None:
    assert event_class.class_version >= 2
    stored = {"attachments": None, "channel": "email"}
    event_class.upcast_v1_v2(stored)
    assert stored == {"attachments": [], "channel": "email"}
    listed = {"attachments": [{"filename": None, "content_type": "text/plain", "size": 3}]}
    event_class.upcast_v1_v2(listed)
    assert listed["attachments"][0]["size"] == 3  # a list stays as it was


def test_version_3_of_a_message_reads_an_older_message_as_citing_no_article() -> None:
    assert Ticket.MessageAdded.class_version == 3
    older = {"attachments": [], "channel": "email"}
    Ticket.MessageAdded.upcast_v2_v3(older)
    assert older == {"attachments": [], "channel": "email", "articles": []}
    citing = {"articles": ["0b6f8a52-6a1e-5f64-9a52-0e4c1c6c7f4e"]}
    Ticket.MessageAdded.upcast_v2_v3(citing)
    assert citing == {"articles": ["0b6f8a52-6a1e-5f64-9a52-0e4c1c6c7f4e"]}


def test_a_snapshot_s_message_rows_from_before_citations_read_as_citing_no_article() -> None:
    before = {name: None for name in MESSAGE_FIELDS if name != "articles"}
    assert complete_message(before)["articles"] == []
    assert set(before) == set(MESSAGE_FIELDS)


def test_a_new_ticket_records_its_attachments_as_a_list_even_when_there_are_none() -> None:
    owner = uuid4()
    assert owned_attachments(owner, None) == []
    assert owned_attachments(owner, []) == []
    named = owned_attachments(owner, [{"filename": "f.txt", "content_type": "t", "size": 1}])
    assert isinstance(named[0]["filename"], Personal)
