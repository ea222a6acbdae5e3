"""The event catalogue lists every event the domain can record, with exactly the members
each records, and the docs page is the catalogue's."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import typing
from datetime import datetime
from pathlib import Path
from uuid import UUID

from eventsourcing.domain import BaseAggregate
from marshmallow import Schema

import domain
from application.tickets import EVENT_BOOKKEEPING
from interface.events.catalogue import AGGREGATES, BY_TYPE, CATALOGUE, recordable_events
from interface.events.markdown import render
from interface.http.operations import build_document

DOCS_PAGE = Path(__file__).parents[2] / "docs" / "events.md"


def domain_aggregates() -> set[type]:
    """Every aggregate class the domain package defines, found by walking it (not from the
    catalogue's own list)."""
    found = set()
    for module_info in pkgutil.walk_packages(domain.__path__, "domain."):
        module = importlib.import_module(module_info.name)
        for _, member in inspect.getmembers(module, inspect.isclass):
            if issubclass(member, BaseAggregate) and member.__module__ == module.__name__:
                found.add(member)
    return found


def recorded_members(event_class: type) -> set[str]:
    """What an event of this class holds in its data: its constructor's arguments but the
    library's and the envelope's own."""
    parameters = inspect.signature(event_class.__init__).parameters
    return {name for name in parameters if name != "self"} - set(EVENT_BOOKKEEPING)


def type_hints(event_class: type) -> dict[str, object]:
    """Its members' types, resolved (the library's own ``timestamp: datetime`` too, though
    not every domain module imports datetime)."""
    names = {"datetime": datetime, "UUID": UUID, **vars(sys.modules[event_class.__module__])}
    return typing.get_type_hints(event_class.__init__, globalns=names)


def test_every_aggregate_of_the_domain_is_in_the_catalogue() -> None:
    missing = {a.__qualname__ for a in domain_aggregates() - set(AGGREGATES)}
    assert not missing, f"Add them to AGGREGATES (interface/events/catalogue.py): {missing}"


def test_every_event_the_domain_can_record_has_a_data_schema() -> None:
    recordable = {e for a in domain_aggregates() for e in recordable_events(a)}
    catalogued = {e.event_class for e in CATALOGUE if e.data is not None}
    missing = sorted(e.__qualname__ for e in recordable - catalogued)
    assert not missing, (
        "Events without a schema; add one to interface/events/data.py named "
        f"<Aggregate><Event> (TicketOpened): {missing}"
    )


def test_the_catalogue_leaves_out_the_library_s_unused_created_events() -> None:
    # Ticket's __init__ records Opened: the inherited Created can never be recorded.
    assert ("ticket", "created") not in BY_TYPE
    assert ("ticket", "opened") in BY_TYPE
    # Calendar's __init__ records its own Created.
    assert ("calendar", "created") in BY_TYPE


def test_each_schema_lists_exactly_the_members_its_event_records() -> None:
    wrong = {}
    for entry in CATALOGUE:
        listed = {f.data_key or name for name, f in entry.data().fields.items()}
        recorded = recorded_members(entry.event_class)
        if listed != recorded:
            wrong[entry.name] = {"not listed": recorded - listed, "not recorded": listed - recorded}
    assert not wrong, wrong


def test_members_holding_personal_data_are_marked_personal() -> None:
    """A member whose type holds a Personal value is personal (or holds personal
    members), and nothing else is marked."""
    wrong = []
    for entry in CATALOGUE:
        # Resolved (not the annotation's text): an alias such as Attachment names no Personal.
        hints = type_hints(entry.event_class)
        for name, field in entry.data().fields.items():
            holds_personal = "Personal" in str(hints[name])
            marked = bool(field.metadata.get("x-personal")) or any(
                p.startswith(name + ".") for p in entry.personal
            )
            if holds_personal != marked:
                wrong.append(f"{entry.name}.{name}")
    assert not wrong, wrong


def test_personal_members_of_the_opening_event_include_the_requester_s_contact() -> None:
    personal = BY_TYPE["ticket", "opened"].personal
    assert {"subject", "description", "requester.email", "attachments.filename"} <= set(personal)
    assert "customer_id" not in personal


def test_event_types_are_unique_within_each_aggregate_and_named_by_their_class() -> None:
    assert len(BY_TYPE) == len(CATALOGUE)
    assert BY_TYPE["ticket", "message_added"].name == "TicketMessageAdded"
    assert BY_TYPE["ticket_sla", "sla_breached"].name == "TicketSlaSlaBreached"
    # The same short name in two aggregates: told apart by aggregate_type.
    assert BY_TYPE["survey", "issued"].event_class is not BY_TYPE["api_token", "issued"].event_class


def test_every_event_type_has_a_version_and_a_description() -> None:
    for entry in CATALOGUE:
        assert entry.version >= 1
        assert entry.description, entry.name
        assert isinstance(entry.data(), Schema)


def test_the_document_has_an_envelope_per_event_type_and_discriminated_unions() -> None:
    schemas = build_document()["components"]["schemas"]
    for entry in CATALOGUE:
        envelope = schemas[entry.name + "Event"]
        assert envelope["properties"]["type"]["const"] == entry.type
        assert envelope["properties"]["aggregate_type"]["const"] == entry.aggregate_type
        assert envelope["properties"]["schema_version"]["const"] == entry.version
        assert envelope["properties"]["data"]["$ref"] == f"#/components/schemas/{entry.name}Data"
    ticket_events = schemas["TicketEvent"]
    assert ticket_events["discriminator"]["propertyName"] == "type"
    assert ticket_events["discriminator"]["mapping"]["opened"].endswith("/TicketOpenedEvent")
    assert len(ticket_events["oneOf"]) == sum(e.aggregate_type == "ticket" for e in CATALOGUE)
    assert len(schemas["Event"]["oneOf"]) == len(AGGREGATES)
    # No discriminator object on the union of unions: its mapping would name unions.
    assert "discriminator" not in schemas["Event"]


def test_the_feed_and_a_history_are_documented_as_the_catalogue_s_unions() -> None:
    schemas = build_document()["components"]["schemas"]
    assert schemas["EventFeedOut"]["properties"]["events"]["items"] == {
        "$ref": "#/components/schemas/Event"
    }
    assert schemas["HistoryOut"]["properties"]["events"]["items"] == {
        "$ref": "#/components/schemas/TicketEvent"
    }


def test_personal_members_are_marked_in_the_document() -> None:
    data = build_document()["components"]["schemas"]["TicketMessageAddedData"]
    assert data["properties"]["body"]["x-personal"] is True
    assert "[erased]" in data["properties"]["body"]["description"]
    assert "x-personal" not in data["properties"]["message_id"]


def test_the_docs_page_is_the_catalogue_s() -> None:
    assert DOCS_PAGE.read_text(encoding="utf-8") == render(), (
        "docs/events.md is out of date: run `python -m interface.events > docs/events.md`"
    )


def test_the_docs_page_names_every_event_type_and_marks_personal_members() -> None:
    page = render()
    for entry in CATALOGUE:
        assert f"`{entry.aggregate_type}` · `{entry.type}`" in page
    assert "| `body` | string | **personal** Its text. |" in page
