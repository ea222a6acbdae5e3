"""Which queued writes a PostgreSQL group commit takes in one batch, and what it does with a
batch the database refuses (infrastructure/postgres_group_commit.py), with a writer that
records what it was asked to write instead of a database."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from application.assumed_reads import StaleRead
from infrastructure.group_commit import QueuedWrite
from infrastructure.postgres_group_commit import EventWrite, PostgresGroupCommit

POLICIES = uuid4()


def _write(*aggregates: UUID, assumes: UUID | None = None) -> QueuedWrite:
    events = [StoredEvent(a, 1, "topic", b"{}") for a in aggregates]
    return QueuedWrite(EventWrite(events, assumed={assumes: 3} if assumes else None))


class Writer:
    """Writes batches, each write at the batch's number; refuses, with ``refusal``, every
    batch of more than one write, and the write ``refused`` alone."""

    def __init__(self, refusal: Exception | None = None, refused: QueuedWrite | None = None):
        self.batches: list[list[EventWrite]] = []
        self.refusal = refusal
        self.refused = refused

    def __call__(self, writes: list[EventWrite]) -> list[list[int]]:
        self.batches.append(writes)
        alone_refused = self.refused is not None and writes[0] is self.refused.work
        if self.refusal is not None and (len(writes) > 1 or alone_refused):
            raise self.refusal
        return [[len(self.batches)] for _ in writes]


def test_writes_on_distinct_aggregates_are_taken_together_in_their_order():
    queued = [_write(uuid4()), _write(uuid4(), uuid4()), _write(uuid4(), assumes=POLICIES)]
    taken, left = PostgresGroupCommit(Writer())._batch(queued)
    assert taken == queued and left == []


def test_a_second_write_on_an_aggregate_waits_for_the_next_batch():
    ticket = uuid4()
    queued = [_write(ticket), _write(uuid4()), _write(ticket), _write(uuid4())]
    taken, left = PostgresGroupCommit(Writer())._batch(queued)
    assert taken == [queued[0], queued[1], queued[3]] and left == [queued[2]]


def test_a_write_of_an_aggregate_another_assumed_unchanged_waits_either_way_round():
    assuming, changing = _write(uuid4(), assumes=POLICIES), _write(POLICIES)
    group = PostgresGroupCommit(Writer())
    assert group._batch([assuming, changing]) == ([assuming], [changing])
    assert group._batch([changing, assuming]) == ([changing], [assuming])


def test_writes_assuming_the_same_aggregate_go_together():
    queued = [_write(uuid4(), assumes=POLICIES) for _ in range(3)]
    assert PostgresGroupCommit(Writer())._batch(queued) == (queued, [])


@pytest.mark.parametrize(
    "refusal", [IntegrityError("duplicate key"), StaleRead({POLICIES: (3, 4)})]
)
def test_a_refused_batch_is_written_again_write_by_write_and_only_the_refused_one_fails(refusal):
    queued = [_write(uuid4()), _write(uuid4()), _write(uuid4())]
    writer = Writer(refusal, refused=queued[1])
    PostgresGroupCommit(writer)._commit(queued)

    assert [len(b) for b in writer.batches] == [3, 1, 1, 1]
    assert [q.done for q in queued] == [True, True, True]
    assert queued[0].outcome() == [2] and queued[2].outcome() == [4]
    with pytest.raises(type(refusal)):
        queued[1].outcome()


def test_a_lost_connection_is_every_writes_failure_and_nothing_is_written_again():
    writer = Writer(OperationalError("server closed the connection"))
    queued = [_write(uuid4()), _write(uuid4())]
    PostgresGroupCommit(writer)._commit(queued)

    assert len(writer.batches) == 1  # each write's own retry asks whether it was stored
    for q in queued:
        with pytest.raises(OperationalError):
            q.outcome()


def test_a_python_error_in_a_batch_is_not_taken_for_a_refusal():
    writer = Writer(TypeError("a bug"))
    queued = [_write(uuid4()), _write(uuid4())]
    PostgresGroupCommit(writer)._commit(queued)

    assert len(writer.batches) == 1
    for q in queued:
        with pytest.raises(TypeError):
            q.outcome()
