"""The audit trail on real SQLite and PostgreSQL: as-of, the hash chain under tampering,
exports, checkpoints, the access log and erasure."""

from __future__ import annotations

import copy
import io
import json
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.audit_file import verify_export
from application.errors import CustomerNotFound, TicketNotFound
from domain.audit_chain import chain_hash, content_digest, event_hash
from domain.personal import ERASED
from interface.audit_export import export_lines, readable_fields
from tests.integration.builders import AGENT, open_ticket


def _message(text: str):
    return lambda t: t.add_message(text, "customer", None, "public", None, AGENT)


def _busy_ticket(atende, messages: int = 4) -> UUID:
    tid = open_ticket(atende).ticket.id
    for n in range(messages):
        atende.tickets.change(tid, _message(f"mensaje {n}"))
    atende.tickets.change(tid, lambda t: t.change_priority("high", AGENT))
    atende.tickets.change(tid, lambda t: t.change_tags(["fibra"], [], AGENT))
    return tid


def _position_column(atende) -> str:
    return "notification_id" if atende.db.is_postgres else "rowid"


def _events(atende) -> str:
    return atende.db.table(atende.tickets.recorder.events_table_name)


def _row(atende, ticket_id: UUID, version: int) -> dict[str, Any]:
    key = ticket_id if atende.db.is_postgres else ticket_id.hex
    with atende.db.transaction(commit=False) as cursor:
        atende.db.execute(
            cursor,
            f"SELECT {_position_column(atende)} AS position, originator_id, topic, state "
            f"FROM {_events(atende)} WHERE originator_id = :id AND originator_version = :v",
            {"id": key, "v": version},
        )
        row = dict(cursor.fetchone())
    row["state"] = bytes(row["state"])
    return row


def _sql(atende, statement: str, params: dict[str, Any]) -> None:
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement, params)


def _edit_state(atende, position: int, state: bytes) -> None:
    _sql(
        atende,
        f"UPDATE {_events(atende)} SET state = :state WHERE {_position_column(atende)} = :p",
        {"state": state, "p": position},
    )


def _delete_event(atende, position: int) -> None:
    _sql(
        atende,
        f"DELETE FROM {_events(atende)} WHERE {_position_column(atende)} = :p",
        {"p": position},
    )


def _delete_link(atende, position: int) -> None:
    _sql(
        atende, f"DELETE FROM {atende.db.table('event_links')} WHERE position = :p", {"p": position}
    )


def _break(report) -> tuple[int | None, UUID | None, int | None]:
    assert not report.ok
    b = report.first_break
    return b.position, b.aggregate_id, b.version


# The chain.


def test_an_untouched_log_verifies_every_event_it_holds(atende):
    _busy_ticket(atende)
    _busy_ticket(atende)
    report = atende.audit.verify()
    assert report.ok, report.first_break
    assert report.checked == atende.tickets.head_position()
    assert report.head_position == atende.tickets.head_position()


def test_an_edited_event_is_named_by_ticket_version_and_position(atende):
    tid = _busy_ticket(atende)
    row = _row(atende, tid, 3)
    _edit_state(atende, row["position"], row["state"].replace(b'"public"', b'"internal"'))

    assert _break(atende.audit.verify()) == (row["position"], tid, 3)
    assert "changed" in atende.audit.verify().first_break.reason
    assert _break(atende.audit.verify_ticket(tid)) == (row["position"], tid, 3)


def test_a_deleted_event_is_named_where_it_was(atende):
    tid = _busy_ticket(atende)
    row = _row(atende, tid, 4)
    _delete_event(atende, row["position"])

    assert _break(atende.audit.verify()) == (row["position"], tid, 4)
    assert "deleted" in atende.audit.verify().first_break.reason
    assert _break(atende.audit.verify_ticket(tid))[0] == row["position"]


def test_an_event_deleted_with_its_hash_breaks_the_chain_at_the_next_row(atende):
    tid = _busy_ticket(atende)
    gone, following = _row(atende, tid, 4), _row(atende, tid, 5)
    _delete_event(atende, gone["position"])
    _delete_link(atende, gone["position"])

    assert _break(atende.audit.verify()) == (following["position"], tid, 5)


def test_an_event_inserted_out_of_band_is_named(atende):
    tid = _busy_ticket(atende)
    last = atende.tickets.get_ticket(tid).version
    row = _row(atende, tid, last)
    key = tid if atende.db.is_postgres else tid.hex
    _sql(
        atende,
        f"INSERT INTO {_events(atende)} (originator_id, originator_version, topic, state) "
        "VALUES (:id, :v, :topic, :state)",
        {"id": key, "v": last + 1, "topic": row["topic"], "state": row["state"]},
    )
    position, aggregate, version = _break(atende.audit.verify())
    assert (aggregate, version) == (tid, last + 1)
    assert position > row["position"]
    assert "out of band" in atende.audit.verify().first_break.reason


def test_a_truncated_tail_is_caught_by_the_signed_checkpoint(atende):
    tid = _busy_ticket(atende)
    checkpoint = atende.audit.checkpoint()
    assert checkpoint.position == atende.tickets.head_position()
    last = _row(atende, tid, atende.tickets.get_ticket(tid).version)
    _delete_event(atende, last["position"])
    _delete_link(atende, last["position"])

    report = atende.audit.verify()
    assert not report.ok
    assert report.first_break.position == checkpoint.position
    assert "truncated" in report.first_break.reason


def test_a_rewrite_that_recomputes_every_hash_still_differs_from_the_checkpoint(atende):
    tid = _busy_ticket(atende)
    atende.audit.checkpoint()
    version = atende.tickets.get_ticket(tid).version
    row = _row(atende, tid, version)
    forged = row["state"].replace(b'"fibra"', b'"cobre"')
    links = atende.db.table("event_links")
    link = atende.db.fetchone(f"SELECT * FROM {links} WHERE position = :p", {"p": row["position"]})
    prev_event = atende.db.fetchone(
        f"SELECT event_hash FROM {links} WHERE originator_id = :id AND originator_version = :v",
        {"id": tid.hex, "v": version - 1},
    )["event_hash"]
    new_event_hash = event_hash(prev_event, content_digest(tid, version, row["topic"], forged))
    new_chain = chain_hash(link["prev_chain_hash"], row["position"], new_event_hash)
    _edit_state(atende, row["position"], forged)
    _sql(
        atende,
        f"UPDATE {links} SET event_hash = :e, chain_hash = :c WHERE position = :p",
        {"e": new_event_hash, "c": new_chain, "p": row["position"]},
    )

    report = atende.audit.verify()
    assert _break(report) == (row["position"], tid, version)
    assert "seal" in report.first_break.reason  # recomputed without the key: caught right here


def test_a_hash_record_holding_what_is_no_hash_is_named_not_a_crash(atende):
    tid = _busy_ticket(atende)
    row = _row(atende, tid, 3)
    _sql(
        atende,
        f"UPDATE {atende.db.table('event_links')} SET event_hash = 'zz', prev_position = "
        "prev_position WHERE position = :p",
        {"p": row["position"]},
    )

    assert _break(atende.audit.verify())[0] == row["position"]
    assert _break(atende.audit.verify_ticket(tid))[0] == row["position"]


def test_columns_rewritten_with_values_of_another_type_are_named_not_a_crash(atende):
    """SQLite keeps whatever type a raw UPDATE writes; PostgreSQL refuses other types, so
    there the hash record's text columns are what can hold nonsense."""
    tid = _busy_ticket(atende)
    edited, renamed = _row(atende, tid, 2), _row(atende, tid, 4)
    if atende.db.is_postgres:
        _sql(
            atende,
            f"UPDATE {atende.db.table('event_links')} SET originator_id = 'not-a-uuid' "
            "WHERE position = :p",
            {"p": edited["position"]},
        )
    else:
        _sql(
            atende,
            f"UPDATE {_events(atende)} SET state = CAST(state AS TEXT) || ' ' WHERE rowid = :p",
            {"p": edited["position"]},
        )
        _sql(
            atende,
            f"UPDATE {_events(atende)} SET originator_id = 'nonsense' WHERE rowid = :p",
            {"p": renamed["position"]},
        )

    report = atende.audit.verify()
    assert _break(report)[0] == edited["position"]
    assert not atende.audit.verify_ticket(tid).ok


def test_a_forged_checkpoint_signature_is_refused(atende):
    _busy_ticket(atende)
    atende.audit.checkpoint()
    _sql(
        atende, f"UPDATE {atende.db.table('audit_checkpoints')} SET signature = :s", {"s": "0" * 64}
    )
    report = atende.audit.verify()
    assert not report.ok
    assert "signature" in report.first_break.reason


# As of.


def _replayed_by_hand(atende, ticket_id: UUID, version: int):
    """The ticket folded from its own events, one by one, without the repository."""
    ticket = None
    for domain_event in list(atende.tickets.events.get(ticket_id))[:version]:
        ticket = domain_event.mutate(ticket)
    return ticket


def _state(ticket) -> tuple:
    return (
        ticket.version,
        ticket.status,
        ticket.priority,
        tuple(ticket.tags),
        tuple(m["body"].text for m in ticket.messages),
        ticket.assignee,
    )


def test_as_of_each_event_equals_the_state_replayed_by_hand_up_to_it(atende):
    tid = _busy_ticket(atende, messages=3)
    for recorded in atende.tickets.history(tid):
        as_of = atende.audit.ticket_as_of(tid, recorded.occurred_at).ticket
        assert _state(as_of) == _state(_replayed_by_hand(atende, tid, recorded.version))


def test_as_of_between_two_events_is_the_state_after_the_earlier(atende):
    tid = _busy_ticket(atende, messages=2)
    history = atende.tickets.history(tid)
    between = history[1].occurred_at + (history[2].occurred_at - history[1].occurred_at) / 2
    if between == history[2].occurred_at:  # same microsecond: nothing lies between
        between = history[1].occurred_at
    assert atende.audit.ticket_as_of(tid, between).ticket.version == 2


def test_as_of_before_the_ticket_existed_is_not_found(atende):
    tid = _busy_ticket(atende, messages=1)
    opened_at = atende.tickets.history(tid)[0].occurred_at
    with pytest.raises(TicketNotFound):
        atende.audit.ticket_as_of(tid, opened_at - timedelta(microseconds=1))


def test_as_of_on_a_long_ticket_starts_from_a_snapshot_and_matches_the_replay(atende):
    tid = open_ticket(atende).ticket.id
    for n in range(230):
        atende.tickets.change(tid, _message(f"m{n}"))
    snapshots = list(atende.tickets.snapshots.get(tid))
    assert [s.originator_version for s in snapshots] == [100, 200]
    history = atende.tickets.history(tid)
    for version in (99, 100, 150, 231):
        at = history[version - 1].occurred_at
        as_of = atende.audit.ticket_as_of(tid, at).ticket
        assert _state(as_of) == _state(_replayed_by_hand(atende, tid, as_of.version))
        assert as_of.version >= version  # events in the same microsecond come along


def test_history_between_two_instants_holds_only_the_events_in_between(atende):
    tid = _busy_ticket(atende, messages=4)
    history = atende.tickets.history(tid)
    start, end = history[2].occurred_at, history[4].occurred_at
    window = atende.audit.history(tid, start, end)
    assert [e.version for e in window] == [
        e.version for e in history if start <= e.occurred_at <= end
    ]
    assert atende.audit.history(tid, history[-1].occurred_at + timedelta(days=1), None) == []


# Export.


def _export_bytes(atende, scope_and_rows) -> bytes:
    return b"".join(export_lines(*scope_and_rows))


def _verify_bytes(data: bytes):
    return verify_export(io.StringIO(data.decode("utf-8")), readable_fields)


def test_exporting_twice_gives_the_same_bytes_and_the_file_verifies_offline(atende):
    tid = _busy_ticket(atende)
    first = _export_bytes(atende, atende.audit.export_ticket(tid))
    second = _export_bytes(atende, atende.audit.export_ticket(tid))
    assert first == second
    assert len(first.splitlines()) == 1 + atende.tickets.get_ticket(tid).version
    report = _verify_bytes(first)
    assert report.ok, report.first_break
    # data: the history as the state alone says it; personal text stays sealed.
    assert b"Ana Souza" not in first
    assert b'"subject":"[sealed]"' in first and b'"type":"opened"' in first
    assert b'"chain_hash"' in first


def test_a_range_export_has_no_gaps_and_a_removed_line_is_caught(atende):
    _busy_ticket(atende)
    _busy_ticket(atende)
    history = atende.tickets.history(_busy_ticket(atende))
    start = history[0].occurred_at - timedelta(days=1)
    data = _export_bytes(atende, atende.audit.export_range(start, history[-1].occurred_at))
    lines = data.splitlines(keepends=True)
    assert len(lines) == 1 + atende.tickets.head_position()
    assert _verify_bytes(data).ok
    without_one = b"".join(lines[:5] + lines[6:])
    report = _verify_bytes(without_one)
    assert not report.ok
    assert report.first_break.position == json.loads(lines[6])["position"]


def test_an_edited_export_line_is_caught_offline(atende):
    tid = _busy_ticket(atende)
    data = _export_bytes(atende, atende.audit.export_ticket(tid))
    lines = data.splitlines(keepends=True)
    tampered = lines[3].replace(b"high", b"urgent") if b"high" in lines[3] else lines[3]
    lines = [*lines[:3], tampered.replace(b'\\"public\\"', b'\\"internal\\"'), *lines[4:]]
    report = _verify_bytes(b"".join(lines))
    assert not report.ok
    assert report.first_break.version == 3


# The access log.


def test_history_reads_are_recorded_for_the_auditor_to_query(atende):
    tid = _busy_ticket(atende, messages=1)
    route = "/v1/tickets/{ticket_id:uuid}/history"
    atende.access_log.record(AGENT, route, "history", ticket_id=tid)
    rows = atende.access_log.reads(ticket_id=tid, principal_id=None, after=None, limit=10)
    assert [(r["principal_name"], r["role"], r["what"]) for r in rows] == [
        ("maria", "agent", "history")
    ]
    assert atende.access_log.reads(ticket_id=uuid4(), principal_id=None, after=None, limit=10) == []


# Erasure.


def test_erasure_shreds_personal_fields_but_history_hashes_and_exports_survive(atende):
    result = open_ticket(atende)
    tid, customer = result.ticket.id, result.ticket.customer_id
    atende.tickets.change(tid, _message("Mi dirección es Rua Augusta 100"))
    before = copy.deepcopy(
        {k: bytes(v) if isinstance(v, memoryview) else v for k, v in _row(atende, tid, 2).items()}
    )
    erased = atende.eraser.erase(customer, AGENT, "pedido del titular")
    assert erased.created

    ticket = atende.tickets.get_ticket(tid)
    assert ticket.subject.text == ERASED
    assert ticket.requester["email"].text == ERASED
    assert ticket.messages[0]["body"].text == ERASED
    assert ticket.status == "new" and ticket.version == 2  # the ticket itself is unchanged
    assert _row(atende, tid, 2) == before  # the stored event did not move a byte
    assert atende.audit.verify().ok
    assert _verify_bytes(_export_bytes(atende, atende.audit.export_ticket(tid))).ok
    key = atende.db.fetchone(
        f"SELECT wrapped_key, erased_at FROM {atende.db.table('customer_keys')} "
        "WHERE customer_id = :id",
        {"id": customer.hex},
    )
    assert key["wrapped_key"] is None and key["erased_at"] is not None


def test_erasing_twice_answers_the_same_and_writes_nothing(atende):
    result = open_ticket(atende)
    first = atende.eraser.erase(result.ticket.customer_id, AGENT)
    head = atende.tickets.head_position()
    again = atende.eraser.erase(result.ticket.customer_id, AGENT)
    assert not again.created
    assert again.position == first.position
    assert atende.tickets.head_position() == head


def test_erasing_an_unknown_customer_is_refused_and_writes_nothing(atende):
    open_ticket(atende)
    head = atende.tickets.head_position()
    with pytest.raises(CustomerNotFound):
        atende.eraser.erase(uuid4(), AGENT)
    assert atende.tickets.head_position() == head


# Snapshots of long threads.


def _thread_of_every_kind(atende) -> UUID:
    """A ticket whose messages use every field: an attachment with a (personal) name, a
    mail thread id, an agent's reply with where to send it, an internal note."""
    tid = open_ticket(atende).ticket.id
    attachment = {"filename": "factura.pdf", "content_type": "application/pdf", "size": 1234}
    atende.tickets.change(
        tid,
        lambda t: t.add_message(
            "Adjunto la factura",
            "customer",
            None,
            "public",
            "email",
            AGENT,
            attachments=[attachment],
            external_id="<cliente-1@example.com>",
        ),
    )
    atende.tickets.change(
        tid, lambda t: t.add_message("Revisamos su caso", "agent", "ag7", "public", None, AGENT)
    )
    atende.tickets.change(
        tid, lambda t: t.add_message("nota interna", "agent", "ag7", "internal", "chat", AGENT)
    )
    return tid


def _snapshot_state(atende, ticket_id: UUID, version: int) -> bytes:
    (stored,) = atende.tickets.snapshots.recorder.select_events(
        ticket_id, gt=version - 1, lte=version
    )
    return bytes(stored.state)


def test_a_snapshot_stores_messages_as_rows_of_sealed_bodies_and_loads_every_field_back(atende):
    tid = _thread_of_every_kind(atende)
    atende.tickets.take_snapshot(tid)
    state = _snapshot_state(atende, tid, 4)
    assert b'"_type_":"message_log"' in state
    assert b'"fields":["id","body","author_type"' in state
    for plain in (b"Adjunto la factura", b"Revisamos su caso", b"nota interna", b"factura.pdf"):
        assert plain not in state

    from_snapshot = atende.tickets.get_ticket(tid)
    replayed = _replayed_by_hand(atende, tid, 4)
    assert len(from_snapshot.messages) == 3
    for loaded, expected in zip(from_snapshot.messages, replayed.messages, strict=True):
        assert loaded == expected  # every field, bodies and attachment names deciphered
    assert from_snapshot.messages[0]["attachments"][0]["filename"].text == "factura.pdf"
    assert from_snapshot.messages[1]["outbound"]["channel"] == "email"


def test_a_snapshot_taken_before_messages_were_rows_still_loads_and_the_ticket_goes_on(atende):
    from eventsourcing.domain import Snapshot
    from eventsourcing.utils import get_topic

    from domain.message_log import MessageLog
    from domain.ticket import Ticket

    tid = _thread_of_every_kind(atende)
    ticket = atende.tickets.get_ticket(tid)
    # A version 1 snapshot, as Atende wrote them before: the messages a plain list of
    # objects, and no class_version.
    state = {
        k: v for k, v in vars(ticket).items() if k not in ("_id", "_version", "_pending_events")
    }
    state["messages"] = list(ticket.messages)
    atende.tickets.snapshots.put(
        [
            Snapshot(
                originator_id=tid,
                originator_version=ticket.version,
                timestamp=Snapshot.create_timestamp(),
                topic=get_topic(Ticket),
                state=state,
            )
        ]
    )
    stored = _snapshot_state(atende, tid, ticket.version)
    assert b"message_log" not in stored and b"class_version" not in stored

    loaded = atende.tickets.get_ticket(tid)
    assert isinstance(loaded.messages, MessageLog)
    assert list(loaded.messages) == list(_replayed_by_hand(atende, tid, 4).messages)
    atende.tickets.change(tid, _message("sigue sin andar"))
    assert [m["body"].text for m in atende.tickets.get_ticket(tid).messages][-2:] == [
        "nota interna",
        "sigue sin andar",
    ]
