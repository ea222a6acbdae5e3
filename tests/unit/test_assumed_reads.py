"""Reads a new ticket takes from the cache unasked (application/assumed_reads.py), on the
library's in-memory event store: what a scope notes for its write to check, when it asks
the store after all, and how a failure after unasked reads is told."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from application.assumed_reads import ABSENT, AssumedReads, StaleRead


class Setting(Aggregate):
    def __init__(self, value: int):
        self.value = value

    @event("Changed")
    def change(self, value: int) -> None:
        self.value = value


@pytest.fixture
def store() -> Application:
    return Application()  # in memory


def reads_of(store: Application, *, enabled: bool = True) -> AssumedReads:
    return AssumedReads(Repository(store.events, cache_maxsize=10), enabled=enabled)


def saved(store: Application, value: int = 1) -> Setting:
    setting = Setting(value)
    store.save(setting)
    return setting


def cached_setting(store: Application) -> tuple[AssumedReads, Setting]:
    """Reads with one saved setting already in their cache."""
    reads = reads_of(store)
    setting = saved(store)
    reads.get(setting.id)
    return reads, setting


def fail_after_an_unasked_read(reads: AssumedReads, setting_id: UUID, error: Exception) -> None:
    """An attempt that reads the cached setting unasked, then fails with ``error``."""
    with reads.scope():
        reads.get(setting_id)
        raise error


def changed_elsewhere(store: Application, setting_id: UUID, value: int) -> None:
    """Another process's change: straight to the store, past this cache."""
    setting = store.repository.get(setting_id)
    setting.change(value)
    store.save(setting)


def test_outside_a_scope_a_read_asks_the_store_and_sees_the_latest_version(store):
    reads = reads_of(store)
    setting = saved(store)
    assert reads.get(setting.id).value == 1
    changed_elsewhere(store, setting.id, 2)
    assert reads.get(setting.id).value == 2
    assert reads.taken() is None


def test_inside_a_scope_a_cached_copy_is_used_unasked_and_its_version_noted(store):
    reads = reads_of(store)
    setting = saved(store)
    reads.get(setting.id)  # cached
    changed_elsewhere(store, setting.id, 2)
    with reads.scope():
        read = reads.get(setting.id)
        assert read.value == 1 and read.version == 1  # stale, for the write to catch
        assert reads.taken() == {setting.id: 1}
    assert reads.taken() is None


def test_a_read_not_cached_yet_asks_inside_a_scope_too_and_its_version_is_noted(store):
    reads = reads_of(store)
    setting = saved(store)
    changed_elsewhere(store, setting.id, 2)
    with reads.scope():
        assert reads.get(setting.id).value == 2
        assert reads.taken() == {setting.id: 2}


def test_when_the_recorder_cannot_check_a_read_inside_a_scope_asks_and_notes_nothing(store):
    reads = reads_of(store, enabled=False)
    setting = saved(store)
    reads.get(setting.id)
    changed_elsewhere(store, setting.id, 2)
    with reads.scope():
        assert reads.get(setting.id).value == 2
        assert reads.taken() is None


def test_a_failure_after_an_unasked_read_is_told_as_a_stale_read_and_the_next_read_asks(store):
    reads, setting = cached_setting(store)
    changed_elsewhere(store, setting.id, 2)
    with pytest.raises(StaleRead) as told:
        fail_after_an_unasked_read(reads, setting.id, LookupError("refused on a stale copy"))
    assert isinstance(told.value.__cause__, LookupError)
    with reads.scope():
        assert reads.get(setting.id).value == 2  # asked, and the cached copy brought forward
        assert reads.taken() == {setting.id: 2}


def test_a_failure_after_asked_reads_only_is_the_commands_own(store):
    reads = reads_of(store)
    setting = saved(store)
    with pytest.raises(LookupError), reads.scope():
        reads.get(setting.id)  # not cached yet: asked
        raise LookupError("refused on what the store says")


def test_a_stale_read_named_by_the_write_makes_the_next_read_ask(store):
    reads, setting = cached_setting(store)
    changed_elsewhere(store, setting.id, 2)
    with pytest.raises(StaleRead):  # what the recorder raises
        fail_after_an_unasked_read(reads, setting.id, StaleRead({setting.id: (1, 2)}))
    with reads.scope():
        assert reads.get(setting.id).version == 2


def test_absence_is_assumed_only_where_the_caller_says_its_write_checks_it(store):
    reads = reads_of(store)
    unknown = uuid4()
    with reads.scope():
        with pytest.raises(AggregateNotFoundError):
            reads.get(unknown)
        assert reads.taken() is None  # asked, and nothing to note
        with pytest.raises(AggregateNotFoundError):
            reads.get(unknown, absence_is_checked=True)
        assert reads.taken() == {unknown: ABSENT}
    with reads.scope():
        with pytest.raises(AggregateNotFoundError):
            reads.get(unknown, absence_is_checked=True)  # now unasked
        assert reads.taken() == {unknown: ABSENT}


def test_what_this_process_writes_is_no_longer_assumed_absent(store):
    reads = reads_of(store)
    setting = Setting(1)
    with reads.scope(), pytest.raises(AggregateNotFoundError):
        reads.get(setting.id, absence_is_checked=True)
    store.save(setting)
    reads.written([setting.id])
    with reads.scope():
        assert reads.get(setting.id, absence_is_checked=True).value == 1
        assert reads.taken() == {setting.id: 1}


def test_an_attempt_run_again_asking_reads_every_copy_afresh_and_its_failure_is_its_own(store):
    reads, setting = cached_setting(store)
    with pytest.raises(StaleRead):
        fail_after_an_unasked_read(reads, setting.id, LookupError("refused on a copy"))
    with reads.scope():
        reads.get(setting.id)  # another thread's read: it takes the turn to ask
    changed_elsewhere(store, setting.id, 3)
    with pytest.raises(LookupError), reads.scope(asking=True):
        assert reads.get(setting.id).value == 3  # asked, though the copy is cached
        assert reads.taken() == {setting.id: 2}
        raise LookupError("refused on what the store says")


@pytest.mark.parametrize("failure", [OperationalError, InterfaceError, ConnectionResetError])
def test_a_failing_database_after_unasked_reads_is_answered_as_it_is(store, failure):
    reads, setting = cached_setting(store)
    with pytest.raises(failure):  # a 503 now, not a second attempt
        fail_after_an_unasked_read(reads, setting.id, failure("the database is unreachable"))


def test_a_version_taken_after_unasked_reads_is_told_as_a_stale_read(store):
    reads, setting = cached_setting(store)
    with pytest.raises(StaleRead):
        fail_after_an_unasked_read(reads, setting.id, IntegrityError("duplicate key value"))
