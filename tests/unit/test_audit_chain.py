"""The hash chain's rules, on rows made in memory: what links, what breaks, and where."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

from domain.audit_chain import (
    GENESIS,
    ChainWalk,
    StoredRow,
    link_rows,
    merge_by_position,
    micros,
    recorded_micros,
    sign_checkpoint,
    snapshot_seal,
    verify_aggregate,
)

KEY = b"k" * 32
TOPIC = "domain.ticket:Ticket.MessageAdded"
START = datetime(2026, 11, 24, 9, 30, 0, 250_001, tzinfo=UTC)


def _log(*owners: UUID, gap_after: int | None = None) -> list[StoredRow]:
    """Rows in position order; each owner's versions count up from 1."""
    versions: dict[UUID, int] = {}
    rows, position = [], 0
    for owner in owners:
        position += 2 if gap_after is not None and position == gap_after else 1
        versions[owner] = versions.get(owner, 0) + 1
        rows.append(StoredRow(position, owner, versions[owner], TOPIC, _state(position)))
    return rows


def _state(n: int) -> bytes:
    """As the library's transcoder writes an event: its timestamp first."""
    at = (START + timedelta(seconds=n)).isoformat()
    return f'{{"timestamp":{{"_type_":"datetime_iso","_data_":"{at}"}},"n":{n}}}'.encode()


def _links(rows: list[StoredRow]):
    tuples = [
        (r.position, r.originator_id, r.version, r.topic, r.state, recorded_micros(r.state))
        for r in rows
    ]
    return link_rows(tuples, {}, 0, GENESIS)


def _walk(rows, links, checkpoints=None):
    walk = ChainWalk(checkpoints=checkpoints or {})
    for event, link in merge_by_position(iter(rows), iter(links)):
        broken = walk.check(event, link)
        if broken is not None:
            return broken
    return walk.finish()


def test_a_log_linked_as_written_verifies_even_with_gaps_in_positions():
    a, b = uuid4(), uuid4()
    rows = _log(a, b, a, a, b, gap_after=2)
    assert [r.position for r in rows] == [1, 2, 4, 5, 6]
    assert _walk(rows, _links(rows)) is None


def test_changing_one_byte_of_an_event_names_its_position_aggregate_and_version():
    a, b = uuid4(), uuid4()
    rows = _log(a, b, a, b)
    links = _links(rows)
    rows[2] = rows[2]._replace(state=_state(99))
    broken = _walk(rows, links)
    assert (broken.position, broken.aggregate_id, broken.version) == (3, a, 2)
    assert "changed" in broken.reason


def test_a_row_missing_from_the_events_is_named_as_deleted():
    a = uuid4()
    rows = _log(a, a, a)
    broken = _walk([rows[0], rows[2]], _links(rows))
    assert (broken.position, broken.version) == (2, 2)
    assert "deleted" in broken.reason


def test_an_event_without_a_hash_record_is_named_as_inserted_out_of_band():
    a = uuid4()
    rows = _log(a, a, a)
    broken = _walk(rows, _links(rows)[:2])
    assert (broken.position, broken.version) == (3, 3)
    assert "out of band" in broken.reason


def test_removing_a_row_with_its_hashes_breaks_the_link_of_the_next_row():
    a, b = uuid4(), uuid4()
    rows = _log(a, b, a)
    links = _links(rows)
    broken = _walk([rows[0], rows[2]], [links[0], links[2]])
    assert (broken.position, broken.aggregate_id) == (3, a)


def test_a_checkpoint_beyond_the_last_row_reports_a_truncated_tail():
    a = uuid4()
    rows = _log(a, a, a)
    links = _links(rows)
    checkpoint = sign_checkpoint(KEY, 3, links[2].chain_hash, "2026-11-24T00:00:00+00:00")
    assert _walk(rows, links, {3: checkpoint}) is None
    broken = _walk(rows[:2], links[:2], {3: checkpoint})
    assert broken.position == 3 and "truncated" in broken.reason


def test_a_checkpoint_is_signed_by_the_deployment_key_only():
    checkpoint = sign_checkpoint(KEY, 7, "ab" * 32, "2026-11-24T00:00:00+00:00")
    assert checkpoint.is_signed_by(KEY)
    assert not checkpoint.is_signed_by(b"x" * 32)
    assert not dataclasses.replace(checkpoint, position=8).is_signed_by(KEY)


def test_one_aggregate_verifies_on_its_own_and_a_missing_version_is_named():
    a, b = uuid4(), uuid4()
    rows = _log(a, b, a, a)
    links = {link.position: link for link in _links(rows)}
    chain_at = {link.position: link.chain_hash for link in links.values()}
    mine = [r for r in rows if r.originator_id == a]
    assert verify_aggregate(mine, links, chain_at) is None
    broken = verify_aggregate([mine[0], mine[2]], links, chain_at)
    assert broken.version == 3 and "version 2 is missing" in broken.reason


def test_an_as_of_time_moved_away_from_the_events_own_timestamp_is_named():
    a, b = uuid4(), uuid4()
    rows = _log(a, b, a, a)
    links = _links(rows)
    links[2] = links[2]._replace(occurred_at=links[2].occurred_at - 1)
    broken = _walk(rows, links)
    assert (broken.position, broken.aggregate_id, broken.version) == (3, a, 2)
    assert "as-of time" in broken.reason
    by_position = {link.position: link for link in links}
    chain_at = {link.position: link.chain_hash for link in links}
    mine = [r for r in rows if r.originator_id == a]
    assert verify_aggregate(mine, by_position, chain_at).version == 2


def test_an_events_own_timestamp_is_read_by_prefix_or_from_any_json_layout():
    at = START.astimezone(timezone(timedelta(hours=-3)))
    later_key = f'{{"n":1,"timestamp":{{"_data_":"{at.isoformat()}","_type_":"x"}}}}'.encode()
    assert recorded_micros(_state(0)) == micros(START)
    assert recorded_micros(later_key) == micros(START)
    assert recorded_micros(b'{"n":1}') is None
    assert recorded_micros(b"not json") is None


def test_a_snapshot_seal_changes_with_the_key_the_state_and_the_event_it_is_bound_to():
    a = uuid4()
    event = "ab" * 32
    seal = snapshot_seal(KEY, a, 100, TOPIC, b'{"priority":"normal"}', event)
    assert seal == snapshot_seal(KEY, a, 100, TOPIC, b'{"priority":"normal"}', event)
    for other in (
        snapshot_seal(b"x" * 32, a, 100, TOPIC, b'{"priority":"normal"}', event),
        snapshot_seal(KEY, a, 100, TOPIC, b'{"priority":"urgent"}', event),
        snapshot_seal(KEY, a, 200, TOPIC, b'{"priority":"normal"}', event),
        snapshot_seal(KEY, uuid4(), 100, TOPIC, b'{"priority":"normal"}', event),
        snapshot_seal(KEY, a, 100, TOPIC, b'{"priority":"normal"}', "cd" * 32),
    ):
        assert other != seal


def _sealed_walk(rows, links):
    walk = ChainWalk(seal_key=KEY)
    for event, link in merge_by_position(iter(rows), iter(links)):
        broken = walk.check(event, link)
        if broken is not None:
            return broken
    return None


def _sealed_links(rows):
    tuples = [
        (r.position, r.originator_id, r.version, r.topic, r.state, recorded_micros(r.state))
        for r in rows
    ]
    return link_rows(tuples, {}, 0, GENESIS, KEY)


def test_sealed_hash_records_verify_and_old_unsealed_ones_before_them_are_accepted():
    a = uuid4()
    rows = _log(a, a, a, a)
    old, new = _links(rows[:2]), _sealed_links(rows)[2:]
    assert [link.seal is None for link in old + new] == [True, True, False, False]
    assert _sealed_walk(rows, old + new) is None


def test_hashes_recomputed_without_the_key_are_named_at_their_own_row():
    a, b = uuid4(), uuid4()
    rows = _log(a, b, a, b)
    rows[1] = rows[1]._replace(state=_state(99))
    recomputed = _links(rows)  # what someone without the key can write: every hash, no seal
    genuine = _sealed_links(_log(a, b, a, b))
    forged = [genuine[0], *[link._replace(seal=genuine[i + 1].seal)
                            for i, link in enumerate(recomputed[1:])]]  # fmt: skip
    broken = _sealed_walk(rows, forged)
    assert (broken.position, broken.aggregate_id) == (2, b)
    assert "seal" in broken.reason


def test_a_hash_record_without_a_seal_after_sealed_ones_is_named():
    a = uuid4()
    rows = _log(a, a, a)
    links = _sealed_links(rows)
    links[2] = links[2]._replace(seal=None)
    broken = _sealed_walk(rows, links)
    assert broken.position == 3 and "not sealed" in broken.reason
