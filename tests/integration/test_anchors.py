"""Anchors against someone with database write access and no secret, on SQLite and
PostgreSQL: signed with Ed25519 (checked with the public key alone), kept in a file outside
the database, taken at most 1,000 events or 60 s apart, and verify says how much of the log
no anchor covers yet."""

from __future__ import annotations

import functools
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from application.audit_file import verify_export
from domain.audit_chain import (
    ANCHOR_EVERY_EVENTS,
    StoredRow,
    chain_hash,
    content_digest,
    event_hash,
)
from infrastructure.anchors import is_signed
from infrastructure.settings import Settings
from interface.audit_export import export_lines, readable_fields
from tests.integration.builders import AGENT, open_ticket

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _sql(atende, statement: str, params: dict | None = None) -> None:
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement, params)


def _anchor_file(atende) -> list[dict]:
    path = Path(atende.settings.checkpoint_path())
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rewrite_last_event_and_every_hash(atende, ticket_id) -> int:
    """What a database-only attacker can do: change an event and recompute its hashes."""
    events = atende.db.table(atende.tickets.recorder.events_table_name)
    links = atende.db.table("event_links")
    version = atende.tickets.get_ticket(ticket_id).version
    key = ticket_id if atende.db.is_postgres else ticket_id.hex
    position_column = "notification_id" if atende.db.is_postgres else "rowid"
    row = atende.db.fetchone(
        f"SELECT {position_column} AS position, topic, state FROM {events} "
        "WHERE originator_id = :id AND originator_version = :v",
        {"id": key, "v": version},
    )
    forged = bytes(row["state"]).replace(b'"high"', b'"low"')
    link = atende.db.fetchone(f"SELECT * FROM {links} WHERE position = :p", {"p": row["position"]})
    prev = atende.db.fetchone(
        f"SELECT event_hash FROM {links} WHERE originator_id = :id AND originator_version = :v",
        {"id": ticket_id.hex, "v": version - 1},
    )["event_hash"]
    new_event = event_hash(prev, content_digest(ticket_id, version, row["topic"], forged))
    new_chain = chain_hash(link["prev_chain_hash"], row["position"], new_event)
    _sql(atende, f"UPDATE {events} SET state = :s WHERE {position_column} = :p",
         {"s": forged, "p": row["position"]})  # fmt: skip
    _sql(atende, f"UPDATE {links} SET event_hash = :e, chain_hash = :c WHERE position = :p",
         {"e": new_event, "c": new_chain, "p": row["position"]})  # fmt: skip
    return row["position"]


def _ticket_with_priority(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.change_priority("high", AGENT))
    return tid


def test_an_anchor_is_checked_with_the_public_key_alone(atende):
    _ticket_with_priority(atende)
    anchor = atende.audit.checkpoint()
    public_key = atende.audit.signer.public_key
    assert is_signed(public_key, anchor.payload(), anchor.signature)
    assert not is_signed(public_key, anchor.payload().replace(b"|", b"/", 1), anchor.signature)


def test_anchors_are_appended_to_the_file_outside_the_database(atende):
    _ticket_with_priority(atende)
    anchor = atende.audit.checkpoint()
    assert _anchor_file(atende)[-1] == anchor.__dict__


def test_a_rewrite_in_the_middle_of_the_log_is_named_at_its_own_position(atende):
    tid = _ticket_with_priority(atende)
    for _ in range(3):
        open_ticket(atende)  # later events: the rewrite is not at the head
    atende.audit.checkpoint()
    position = _rewrite_last_event_and_every_hash(atende, tid)

    report = atende.audit.verify()

    assert not report.ok
    assert report.first_break.position == position
    assert "seal" in report.first_break.reason


def test_a_truncated_tail_is_caught_by_the_file_anchor_after_the_database_ones_are_deleted(
    atende,
):
    tid = _ticket_with_priority(atende)
    anchor = atende.audit.checkpoint()
    events = atende.db.table(atende.tickets.recorder.events_table_name)
    position_column = "notification_id" if atende.db.is_postgres else "rowid"
    _sql(atende, f"DELETE FROM {events} WHERE {position_column} = :p", {"p": anchor.position})
    _sql(atende, f"DELETE FROM {atende.db.table('event_links')} WHERE position = :p",
         {"p": anchor.position})  # fmt: skip
    _sql(atende, f"DELETE FROM {atende.db.table('audit_checkpoints')}")
    assert tid is not None

    report = atende.audit.verify()

    assert not report.ok
    assert report.first_break.position == anchor.position
    assert "truncated" in report.first_break.reason


def test_a_checkpoint_row_signed_without_the_key_is_refused(atende):
    _ticket_with_priority(atende)
    anchor = atende.audit.checkpoint()
    _sql(atende, f"UPDATE {atende.db.table('audit_checkpoints')} SET signature = :s",
         {"s": "ed25519:" + "A" * 86 + "=="})  # fmt: skip
    report = atende.audit.verify()
    assert not report.ok and "signature" in report.first_break.reason
    assert report.first_break.position == anchor.position


def test_an_anchor_is_due_after_a_minute_of_new_events(atende):
    _ticket_with_priority(atende)
    first = atende.audit.anchor_if_due(T0)
    assert first is not None
    open_ticket(atende)
    assert atende.audit.anchor_if_due(T0 + timedelta(seconds=59)) is None
    later = atende.audit.anchor_if_due(T0 + timedelta(seconds=60))
    assert later is not None and later.position > first.position


def test_no_anchor_is_taken_when_nothing_was_written(atende):
    _ticket_with_priority(atende)
    atende.audit.anchor_if_due(T0)
    assert atende.audit.anchor_if_due(T0 + timedelta(hours=1)) is None


def test_an_anchor_is_due_after_a_thousand_events_however_soon(atende):
    tid = _ticket_with_priority(atende)
    atende.audit.anchor_if_due(T0)
    for n in range(ANCHOR_EVERY_EVENTS):
        atende.tickets.change(tid, lambda t, n=n: t.change_tags([f"t{n}"], [], AGENT))
    assert atende.audit.anchor_if_due(T0 + timedelta(seconds=1)) is not None


def test_verify_reports_the_unanchored_tail(atende):
    tid = _ticket_with_priority(atende)
    anchor = atende.audit.checkpoint()
    for tag in ("a", "b", "c"):
        atende.tickets.change(tid, lambda t, tag=tag: t.change_tags([tag], [], AGENT))

    window = atende.audit.verify().unanchored

    assert window.anchored_position == anchor.position
    assert window.events == 3
    assert window.seconds is not None and window.seconds >= 0


def test_verify_says_when_nothing_is_anchored_yet(atende):
    _ticket_with_priority(atende)
    window = atende.audit.verify().unanchored
    assert window.anchored_position is None and window.events >= 2


def test_postgresql_without_an_anchor_file_is_refused_at_start():
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:5432/test")
    with pytest.raises(RuntimeError, match="ATENDE_CHECKPOINT_FILE"):
        settings.checkpoint_path()


# A third party, offline: a range export carries its anchors; the public key checks them.


def _range_export(atende) -> list[dict]:
    scope, rows = atende.audit.export_range(T0 - timedelta(days=3650), datetime.now(UTC))
    return [json.loads(line) for line in export_lines(scope, rows)]


def _verify_file(lines: list[dict], public_key: str | None):
    text = "".join(json.dumps(line) + "\n" for line in lines)
    holds = None if public_key is None else functools.partial(is_signed, public_key)
    return verify_export(io.StringIO(text), readable_fields, holds)


def _rehash_last_line(lines: list[dict]) -> None:
    """What someone holding only the file can do: change an event and recompute its hashes
    so the file is consistent in itself."""
    last = lines[-1]
    last["state"] = last["state"].replace('"high"', '"low"')
    row = StoredRow(last["position"], UUID(last["aggregate_id"]), last["version"],
                    last["topic"], last["state"].encode())  # fmt: skip
    last.update(readable_fields(row))
    digest = content_digest(row.originator_id, row.version, row.topic, row.state)
    last["event_hash"] = event_hash(last["prev_event_hash"], digest)
    last["chain_hash"] = chain_hash(last["prev_chain_hash"], row.position, last["event_hash"])


def test_a_range_export_carries_its_anchors_and_the_public_key_alone_checks_them(atende):
    _ticket_with_priority(atende)
    anchor = atende.audit.checkpoint()
    lines = _range_export(atende)
    assert [a["position"] for a in lines[0]["scope"]["anchors"]] == [anchor.position]
    report = _verify_file(lines, atende.audit.signer.public_key)
    assert report.ok and report.checkpoints == 1


def test_a_file_rehashed_in_itself_fails_against_its_anchor_with_the_public_key(atende):
    _ticket_with_priority(atende)
    atende.audit.checkpoint()
    lines = _range_export(atende)
    _rehash_last_line(lines)
    assert _verify_file(lines, None).ok  # consistent in itself: only the anchor tells
    report = _verify_file(lines, atende.audit.signer.public_key)
    assert not report.ok and "anchor" in report.first_break.reason


def test_an_anchor_whose_signature_was_forged_in_the_file_is_refused(atende):
    _ticket_with_priority(atende)
    atende.audit.checkpoint()
    lines = _range_export(atende)
    lines[0]["scope"]["anchors"][0]["signature"] = "ed25519:" + "A" * 86 + "=="
    report = _verify_file(lines, atende.audit.signer.public_key)
    assert not report.ok and "signature" in report.first_break.reason
