"""Writes a process has waiting at once share one commit on SQLite (infrastructure/
group_commit.py); on both databases, concurrent writes with one refused among them: the
others all land, the refused one is undone alone and answered as itself, and the hash
chain and the ticket numbers read as if the writes had come one by one."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable

import pytest

from application.errors import DuplicateExternalRef
from domain.customer import Contact
from infrastructure.group_commit import GroupCommit
from tests.integration.builders import open_ticket

WRITERS = 12
BOUND_SECONDS = 10.0


def _all_at_once(work: list[Callable[[], object]]) -> list[object]:
    outcomes: list[object] = [None] * len(work)
    start = threading.Barrier(len(work), timeout=BOUND_SECONDS)

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = work[i]()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND_SECONDS)
    return outcomes


def _opening(atende, n: int, external_ref: str | None = None) -> Callable[[], object]:
    contact = Contact(name=f"Cliente {n}", email=f"cliente{n}@example.com")
    return lambda: open_ticket(atende, contact=contact, external_ref=external_ref)


def test_concurrent_writes_with_one_refused_all_others_land_in_order(atende):
    open_ticket(atende, external_ref="taken")
    work = [_opening(atende, n) for n in range(WRITERS)]
    work[WRITERS // 2] = _opening(atende, 99, external_ref="taken")

    outcomes = _all_at_once(work)

    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], DuplicateExternalRef), outcomes
    numbers = sorted(atende.tickets.number_of(o.ticket.id) for o in outcomes if o not in refused)
    assert numbers == list(range(2, WRITERS + 1))
    report = atende.audit.verify()
    assert report.ok and report.checked > WRITERS  # each ticket and its identity claim


# PostgreSQL batches otherwise (tests/integration/test_postgres_group_commit.py).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_writes_queued_behind_the_write_lock_are_committed_together_on_sqlite(atende, monkeypatch):
    batches: list[int] = []
    commit = GroupCommit._commit
    monkeypatch.setattr(
        GroupCommit,
        "_commit",
        lambda self, batch: (batches.append(len(batch)), commit(self, batch)),
    )
    open_ticket(atende, external_ref="taken")  # the recorder's group commit exists
    batches.clear()
    group = atende.tickets.recorder._group_commit
    # One customer, whose key exists: a new customer's key is written first, under the
    # same lock, and would wait there instead of in the queue.
    work = [lambda: open_ticket(atende) for _ in range(WRITERS)]
    work[WRITERS // 2] = lambda: open_ticket(atende, external_ref="taken")  # refused
    outcomes: list[object] = []

    def write(opening: Callable[[], object]) -> None:
        try:
            outcomes.append(opening())
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes.append(error)

    # Another process holds SQLite's write lock: this one's writes queue behind it.
    held = os.open(f"{atende.tickets.recorder.datastore.pool.db_name}.writelock", os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        threads = [threading.Thread(target=write, args=(w,)) for w in work]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + BOUND_SECONDS
        while len(group._pending) < WRITERS - 1:  # one leads, waiting for the lock
            assert time.monotonic() < deadline, f"only {len(group._pending)} queued"
            time.sleep(0.01)
    finally:
        os.close(held)
    for thread in threads:
        thread.join(BOUND_SECONDS)

    # The refused write read its requester's claim from the cache without asking, so its
    # refusal is believed only once it is made again on reads that ask: alone, after
    # (application/assumed_reads.py).
    assert batches == [1, WRITERS - 1, 1]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], DuplicateExternalRef), outcomes
    numbers = sorted(atende.tickets.number_of(o.ticket.id) for o in outcomes if o not in refused)
    assert numbers == list(range(2, WRITERS + 1))
    assert atende.audit.verify().ok
