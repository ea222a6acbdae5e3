"""Event shapes carry versions: a shape that changes raises its class's version and adds
the upcaster eventsourcing's mapper runs on every older stored event."""

from __future__ import annotations

from uuid import uuid4

import pytest

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
    assert event_class.class_version == 2
    stored = {"attachments": None, "channel": "email"}
    event_class.upcast_v1_v2(stored)
    assert stored == {"attachments": [], "channel": "email"}
    listed = {"attachments": [{"filename": None, "content_type": "text/plain", "size": 3}]}
    event_class.upcast_v1_v2(listed)
    assert listed["attachments"][0]["size"] == 3  # a list stays as it was


def test_a_new_ticket_records_its_attachments_as_a_list_even_when_there_are_none() -> None:
    owner = uuid4()
    assert owned_attachments(owner, None) == []
    assert owned_attachments(owner, []) == []
    named = owned_attachments(owner, [{"filename": "f.txt", "content_type": "t", "size": 1}])
    assert isinstance(named[0]["filename"], Personal)
