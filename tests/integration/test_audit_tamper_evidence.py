"""Issue 16, items 8-10, on real SQLite and PostgreSQL: snapshots, the as-of index and
export files, each attacked where it is stored (raw SQL, edited file lines)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from uuid import UUID

import pytest

from application.audit_file import ExportFileError
from domain.audit_chain import snapshot_seal
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_audit import (
    _busy_ticket,
    _export_bytes,
    _row,
    _sql,
    _verify_bytes,
)


def _long_ticket(atende, events: int) -> UUID:
    """A ticket of ``events`` events, saved at once: snapshots at 100, 200..."""
    tid = open_ticket(atende).ticket.id
    ticket = atende.tickets.get_ticket(tid)
    while ticket.version < events:
        ticket.add_message(f"m{ticket.version}", "customer", None, "public", None, AGENT)
    atende.tickets.save(ticket)
    return tid


def _snapshots(atende) -> str:
    return atende.db.table(atende.tickets.snapshots.recorder.events_table_name)


def _key(atende, ticket_id: UUID):
    return ticket_id if atende.db.is_postgres else ticket_id.hex


def _stored_snapshot(atende, ticket_id: UUID, version: int) -> dict:
    with atende.db.transaction(commit=False) as cursor:
        atende.db.execute(
            cursor,
            f"SELECT topic, state FROM {_snapshots(atende)} "
            "WHERE originator_id = :id AND originator_version = :v",
            {"id": _key(atende, ticket_id), "v": version},
        )
        row = dict(cursor.fetchone())
    return {"topic": row["topic"], "state": bytes(row["state"])}


def _edit_snapshot(atende, ticket_id: UUID, version: int, old: bytes, new: bytes) -> bytes:
    state = _stored_snapshot(atende, ticket_id, version)["state"]
    assert old in state
    edited = state.replace(old, new)
    _sql(
        atende,
        f"UPDATE {_snapshots(atende)} SET state = :state "
        "WHERE originator_id = :id AND originator_version = :v",
        {"state": edited, "id": _key(atende, ticket_id), "v": version},
    )
    return edited


def _reseal(atende, ticket_id: UUID, version: int, seal: str) -> None:
    _sql(
        atende,
        f"UPDATE {atende.db.table('snapshot_seals')} SET seal = :seal "
        "WHERE originator_id = :id AND originator_version = :v",
        {"seal": seal, "id": ticket_id.hex, "v": version},
    )


def _snapshot_break(report, ticket_id: UUID, version: int) -> str:
    assert not report.ok
    broken = report.first_break
    assert (broken.aggregate_id, broken.version) == (ticket_id, version)
    return broken.reason


# 8. Snapshots.


def test_an_edited_snapshot_is_never_served_and_verify_names_its_ticket_and_version(atende):
    tid = _long_ticket(atende, 150)
    assert atende.audit.verify().ok  # sealed when taken
    _edit_snapshot(atende, tid, 100, b'"priority":"normal"', b'"priority":"urgent"')

    assert atende.tickets.get_ticket(tid).priority == "normal"
    at = atende.tickets.history(tid)[119].occurred_at
    assert atende.audit.ticket_as_of(tid, at).ticket.priority == "normal"
    # A command sees the ticket its events make: to them, "urgent" is a change.
    atende.tickets.change(tid, lambda t: t.change_priority("urgent", AGENT))
    assert atende.tickets.history(tid)[-1].type == "priority_changed"

    assert "does not match its seal" in _snapshot_break(atende.audit.verify(), tid, 100)
    assert "does not match its seal" in _snapshot_break(atende.audit.verify_ticket(tid), tid, 100)


def test_a_snapshot_resealed_without_the_secret_is_refused(atende):
    tid = _long_ticket(atende, 120)
    edited = _edit_snapshot(atende, tid, 100, b'"status":"new"', b'"status":"closed"')
    topic = _stored_snapshot(atende, tid, 100)["topic"]
    event_hash = atende.audit.log.event_hash_of(tid, 100)
    for forged in (
        hashlib.sha256(edited).hexdigest(),
        snapshot_seal(b"guessed" * 4, tid, 100, topic, edited, event_hash),
    ):
        _reseal(atende, tid, 100, forged)
        assert atende.tickets.get_ticket(tid).status == "new"
        assert atende.tickets.snapshots.recorder.select_events(tid) == []
        _snapshot_break(atende.audit.verify(), tid, 100)


def test_a_snapshot_written_without_a_seal_is_never_served_and_is_named(atende):
    tid = _long_ticket(atende, 110)
    _edit_snapshot(atende, tid, 100, b'"priority":"normal"', b'"priority":"low"')
    _sql(
        atende,
        f"DELETE FROM {atende.db.table('snapshot_seals')} WHERE originator_id = :id",
        {"id": tid.hex},
    )
    assert atende.tickets.get_ticket(tid).priority == "normal"
    assert "no seal" in _snapshot_break(atende.audit.verify(), tid, 100)


def test_when_the_newest_snapshot_is_refused_the_one_before_it_is_loaded(atende):
    tid = _long_ticket(atende, 230)
    _edit_snapshot(atende, tid, 200, b'"priority":"normal"', b'"priority":"high"')
    newest = atende.tickets.snapshots.recorder.select_events(tid, desc=True, limit=1)
    assert [s.originator_version for s in newest] == [100]
    ticket = atende.tickets.get_ticket(tid)
    assert (ticket.version, ticket.priority, len(ticket.messages)) == (230, "normal", 229)


def test_refused_snapshots_are_made_again_from_the_events_and_verify_holds(atende):
    tid = _long_ticket(atende, 210)
    _edit_snapshot(atende, tid, 100, b'"priority":"normal"', b'"priority":"urgent"')
    _sql(
        atende,
        f"DELETE FROM {atende.db.table('snapshot_seals')} "
        "WHERE originator_id = :id AND originator_version = 200",
        {"id": tid.hex},
    )
    assert not atende.audit.verify().ok

    assert atende.audit.retake_snapshots() == 2
    assert atende.audit.verify().ok
    assert atende.audit.retake_snapshots() == 0
    stored = atende.tickets.snapshots.recorder.select_events(tid)
    assert [s.originator_version for s in stored] == [100, 200]
    assert b'"priority":"normal"' in _stored_snapshot(atende, tid, 100)["state"]


# 9. The as-of index.


def test_a_moved_as_of_time_is_named_by_ticket_version_and_position(atende):
    tid = _busy_ticket(atende)
    position = _row(atende, tid, 3)["position"]
    _sql(
        atende,
        f"UPDATE {atende.db.table('event_links')} SET occurred_at = occurred_at - :shift "
        "WHERE position = :p",
        {"shift": 3_600_000_000, "p": position},
    )
    for report in (atende.audit.verify(), atende.audit.verify_ticket(tid)):
        assert not report.ok
        broken = report.first_break
        assert (broken.position, broken.aggregate_id, broken.version) == (position, tid, 3)
        assert "as-of time" in broken.reason


# 10. Export files.


def _lines(atende, ticket_id: UUID) -> list[dict]:
    data = _export_bytes(atende, atende.audit.export_ticket(ticket_id))
    return [json.loads(line) for line in data.splitlines()]


def _file(lines: list[dict]) -> bytes:
    return b"".join(
        json.dumps(line, sort_keys=True, separators=(",", ":")).encode() + b"\n" for line in lines
    )


EDITS = {
    "actor": lambda line: line["actor"].update(name="someone else"),
    "type": lambda line: line.update(type="escalated"),
    "occurred_at": lambda line: line.update(occurred_at="2020-01-01T00:00:00+00:00"),
    "data": lambda line: line["data"].update(priority="low"),
    "ticket_id": lambda line: line.update(ticket_id="00000000-0000-0000-0000-000000000000"),
    "aggregate_type": lambda line: line.update(aggregate_type="calendar"),
    "an added field": lambda line: line.update(note="approved by the auditor"),
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_an_export_line_whose_readable_field_was_edited_is_named_offline(atende, field):
    tid = _busy_ticket(atende)
    lines = _lines(atende, tid)
    assert _verify_bytes(_file(lines)).ok
    changed = next(line for line in lines[1:] if line["type"] == "priority_changed")
    EDITS[field](changed)

    report = _verify_bytes(_file(lines))
    assert not report.ok
    broken = report.first_break
    assert (broken.position, broken.version) == (changed["position"], changed["version"])


def test_an_export_carries_no_personal_text_and_is_the_same_before_and_after_erasure(atende):
    result = open_ticket(atende)
    tid = result.ticket.id
    atende.tickets.change(
        tid, lambda t: t.add_message("Rua Augusta 100", "customer", None, "public", None, AGENT)
    )
    before = _export_bytes(atende, atende.audit.export_ticket(tid))
    atende.eraser.erase(result.ticket.customer_id, AGENT, "pedido del titular")
    after = _export_bytes(atende, atende.audit.export_ticket(tid))

    assert after.splitlines()[: len(before.splitlines())] == before.splitlines()
    assert _verify_bytes(after).ok
    assert b"Rua Augusta" not in after and b"Ana Souza" not in after
    message = json.loads(after.splitlines()[2])
    assert message["data"]["body"] == "[sealed]"


def test_a_range_export_whose_header_moves_its_bounds_is_caught(atende):
    _busy_ticket(atende)
    history = atende.tickets.history(_busy_ticket(atende))
    start, end = history[0].occurred_at, history[-1].occurred_at
    data = _export_bytes(atende, atende.audit.export_range(start, end))
    lines = [json.loads(line) for line in data.splitlines()]
    assert _verify_bytes(data).ok
    lines[0]["scope"]["from"] = (start + timedelta(days=1)).isoformat()
    report = _verify_bytes(_file(lines))
    assert not report.ok and "from and to" in report.first_break.reason


def test_an_export_of_the_format_before_every_field_was_checked_is_refused(atende):
    lines = _lines(atende, _busy_ticket(atende))
    lines[0]["atende_export"] = 1
    with pytest.raises(ExportFileError, match="format 1"):
        _verify_bytes(_file(lines))
