"""A store written by an earlier version of Atende (tests/fixtures/store-v1, written by
tests/fixtures/write_store.py) is read, verified and rebuilt by this one: its events of
every type read in their current shape (through upcasters where a shape has changed since),
its hash chain and anchor verify, and every view rebuilt from its log holds the rows the
store holds.

The fixture is a SQLite file (a database file kept in the repository); its stored rows are
also read through a PostgreSQL-backed Atende's mapper, as a store of either backend holds
them.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from application.tickets import recorded_event
from infrastructure.rebuild import rebuild
from infrastructure.views.registry import VIEWS
from interface.container import Atende
from interface.events.catalogue import BY_TYPE, CATALOGUE
from interface.http.operations import build_document
from interface.http.schemas.events import EventOut
from interface.wiring import bootstrap
from tests.catalogue_check import CatalogueCheck
from tests.databases import BACKENDS, fresh_database_url, settings_for

FIXTURES = Path(__file__).parents[1] / "fixtures"
STORES = sorted(FIXTURES.glob("store-v*"), key=lambda s: int(s.name.removeprefix("store-v")))
NEWEST = STORES[-1] if STORES else FIXTURES / "store-v1"
MANIFEST = "atende.db.manifest.json"


def manifest(store: Path) -> dict[str, Any]:
    return json.loads((store / MANIFEST).read_text(encoding="utf-8"))


@pytest.fixture(params=STORES, ids=[s.name for s in STORES])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Atende, dict]]:
    """The store, copied (opening it writes: WAL files, new tables, rebuilt views)."""
    copy = tmp_path / request.param.name
    shutil.copytree(request.param, copy)
    atende = bootstrap(settings_for(f"sqlite:///{copy / 'atende.db'}"))
    try:
        yield atende, manifest(request.param)
    finally:
        atende.close()


def all_events(atende: Atende) -> list[Any]:
    return atende.tickets.events_after(0, atende.tickets.head_position())


def test_there_is_a_stored_fixture_holding_every_event_type_of_its_time() -> None:
    """The newest store holds every type: a version that adds types writes a new one."""
    assert STORES, "tests/fixtures/store-v* is missing"
    held = set(manifest(NEWEST)["event_types"])
    assert held == {f"{e.aggregate_type}.{e.type}" for e in CATALOGUE}


def test_an_earlier_store_verifies_whole_with_its_anchor(store) -> None:
    atende, written = store
    report = atende.audit.verify()
    assert report.ok, report.as_dict()
    assert report.checked == written["head"]
    assert report.checkpoints >= 1


def test_every_stored_event_reads_in_its_type_s_current_shape(store) -> None:
    atende, written = store
    events = all_events(atende)
    assert len(events) == written["head"]
    held = {f"{e.aggregate_type}.{e.type}" for e in events}
    assert held == set(written["event_types"])
    dumped = EventOut(many=True).dump(events)
    assert CatalogueCheck(build_document()).problems(dumped) == []
    for event in dumped:
        current = BY_TYPE[event["aggregate_type"], event["type"]].version
        assert event["schema_version"] == current  # upcast, whatever it was stored as


def test_no_event_type_a_store_holds_has_left_the_catalogue(store) -> None:
    """A type removed from the domain would leave its stored events unreadable."""
    _, written = store
    catalogued = {f"{e.aggregate_type}.{e.type}" for e in CATALOGUE}
    assert set(written["event_types"]) <= catalogued


def test_a_newer_shape_has_an_upcaster_from_each_version_a_store_holds(store) -> None:
    _, written = store
    for name, stored_version in written["event_types"].items():
        aggregate_type, kind = name.split(".")
        entry = BY_TYPE[aggregate_type, kind]
        for version in range(stored_version, entry.version):
            assert hasattr(entry.event_class, f"upcast_v{version}_v{version + 1}"), name


def test_personal_data_still_decrypts_and_an_erased_customer_s_reads_erased(store) -> None:
    atende, _ = store
    opened = [e for e in all_events(atende) if e.type == "opened"]
    subjects = {str(EventOut().dump(e)["data"]["subject"]) for e in opened}
    assert "Velocidad muy baja" in subjects  # written in clear, read back through its key
    assert "Alta nueva" in subjects  # Marta's after her erasure, under a new key
    assert "Baja del servicio" not in subjects  # Marta's before it: the key is gone
    assert "[erased]" in subjects


@pytest.fixture(params=BACKENDS)
def fresh_atende(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Atende]:
    with fresh_database_url(request.param, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            yield atende
        finally:
            atende.close()


def test_stored_events_of_every_older_version_read_in_their_current_shape_on_either_backend(
    fresh_atende: Atende,
) -> None:
    """The fixture's stored rows, as they are, through this backend's mapper (without the
    fixture's keys their personal members read [erased], as after an erasure)."""
    with sqlite3.connect(NEWEST / "atende.db") as stored:
        rows = stored.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events"
        ).fetchall()
    events = [
        recorded_event(
            fresh_atende.tickets.mapper.to_domain_event(
                StoredEvent(UUID(originator), version, topic, state)
            )
        )
        for originator, version, topic, state in rows
    ]
    dumped = EventOut(many=True, exclude=("position",)).dump(events)  # as a history shows them
    assert {f"{e['aggregate_type']}.{e['type']}" for e in dumped} == {
        f"{e.aggregate_type}.{e.type}" for e in CATALOGUE
    }
    assert CatalogueCheck(build_document()).problems(dumped) == []
    opened = [e for e in dumped if e["type"] == "opened"]
    assert all(e["schema_version"] == BY_TYPE[("ticket", "opened")].version
               and isinstance(e["data"]["attachments"], list) for e in opened)  # fmt: skip


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_every_view_rebuilt_from_an_earlier_log_holds_the_stored_rows(store, view: str) -> None:
    atende, _ = store
    stored = atende.views[view].rows()
    assert stored, f"the fixture's {view} view is empty: it would prove nothing"
    rebuild(atende, view)
    assert atende.views[view].rows() == stored


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_view_s_follower_skips_only_events_that_change_nothing_in_it(store, view: str) -> None:
    """A follower decodes only the events its projection wants (told from the topic,
    RowProjection.handles); every event of every type the store holds that it skips
    would have made no change, and each view skips some (the filter is in use)."""
    atende, _ = store
    projection = VIEWS[view].projection(view=atende.views[view])
    head = atende.tickets.head_position()
    skipped = set()
    for n in atende.tickets.recorder.select_notifications(start=0, limit=head + 1):
        if not projection.wants(n.topic, n.id):
            skipped.add(n.topic)
            event = atende.tickets.mapper.to_domain_event(n)
            assert projection.changes(event, n.id) == [], f"{view} skipped {n.topic}"
    assert skipped, f"{view} decodes every event"
