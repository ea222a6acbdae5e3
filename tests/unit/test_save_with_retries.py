"""The loop every command shares for races with other writers (application/retries.py)."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from application.errors import ConcurrentWriteConflict, StaleVersion
from application.retries import Save, save_with_retries


class Store:
    """Refuses the first ``losses`` writes, as a store does when another writer won."""

    def __init__(self, losses: int):
        self.losses = losses
        self.reads = 0
        self.writes = 0

    def attempt(self) -> Save[str]:
        self.reads += 1
        read = self.reads

        def write() -> str:
            self.writes += 1
            if self.writes <= self.losses:
                raise IntegrityError("version taken")
            return f"saved after read {read}"

        return Save(write)


def test_a_lost_race_reads_again_and_saves_what_the_command_makes_of_the_fresh_read():
    store = Store(losses=2)
    assert save_with_retries(store.attempt, what="x", retries=5) == "saved after read 3"
    assert (store.reads, store.writes) == (3, 3)


def test_an_attempt_that_changed_nothing_is_the_answer_and_writes_nothing():
    assert save_with_retries(lambda: "as it stands", what="x", retries=5) == "as it stands"


def test_losing_every_race_gives_up_with_a_conflict_naming_what_kept_changing():
    store = Store(losses=99)
    with pytest.raises(ConcurrentWriteConflict) as raised:
        save_with_retries(store.attempt, what="ticket 7", retries=4)
    assert str(raised.value) == "ticket 7 kept changing; try again"
    assert store.writes == 4


def test_on_conflict_may_refuse_to_try_again():
    store = Store(losses=99)

    def stale() -> None:
        raise StaleVersion(1, 2)

    with pytest.raises(StaleVersion):
        save_with_retries(store.attempt, what="x", retries=5, on_conflict=stale)
    assert store.writes == 1


def test_retries_back_off_by_a_random_wait_growing_with_each_retry(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("application.retries.time.sleep", waits.append)
    monkeypatch.setattr("application.retries.random.uniform", lambda low, high: high)
    save_with_retries(Store(losses=3).attempt, what="x", retries=5, backoff_seconds=0.01)
    assert waits == pytest.approx([0.01, 0.02, 0.03])


def test_without_a_backoff_retries_do_not_wait(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("application.retries.time.sleep", waits.append)
    save_with_retries(Store(losses=3).attempt, what="x", retries=5)
    assert waits == []
