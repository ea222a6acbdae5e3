"""The hash chain's rules, on rows made in memory: what links, what breaks, and where."""

from __future__ import annotations

import dataclasses
from uuid import UUID, uuid4

from domain.audit_chain import (
    GENESIS,
    ChainWalk,
    StoredRow,
    link_rows,
    merge_by_position,
    sign_checkpoint,
    verify_aggregate,
)

KEY = b"k" * 32
TOPIC = "domain.ticket:Ticket.MessageAdded"


def _log(*owners: UUID, gap_after: int | None = None) -> list[StoredRow]:
    """Rows in position order; each owner's versions count up from 1."""
    versions: dict[UUID, int] = {}
    rows, position = [], 0
    for owner in owners:
        position += 2 if gap_after is not None and position == gap_after else 1
        versions[owner] = versions.get(owner, 0) + 1
        state = f'{{"n": {position}}}'.encode()
        rows.append(StoredRow(position, owner, versions[owner], TOPIC, state))
    return rows


def _links(rows: list[StoredRow]):
    tuples = [(r.position, r.originator_id, r.version, r.topic, r.state) for r in rows]
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
    rows[2] = dataclasses.replace(rows[2], state=b'{"n": 99}')
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
