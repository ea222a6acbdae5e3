"""Reads a new ticket takes from the process's cache, checked by its own write.

Opening a ticket reads two or three small aggregates before it writes: the requester's
identity claims and the SLA policies (and their calendar). Each is cached per process
(TicketApplication.small_aggregates), but the library still asks the database on every
read whether a newer version exists: on PostgreSQL a round trip each, half of a new
ticket's four (issue 19).

Within ``scope()``, a cached aggregate is used as it is, without asking, and the version
used is noted. The notes travel with the command's events to the recorder, which compares
them with the log inside the write's own transaction, after it has taken the events
table's lock (infrastructure/recorders.py). Every write to the log takes that lock, so
nothing can change those aggregates between the check and the commit: the command is as
current as if each read had asked, at the moment that matters. When one is stale the
write is refused (StaleRead) and nothing of it is stored; the command runs again on
reads that ask the database (fast-forwarding the cached copies, so configuration is still
decoded once per version), and the next read by any other thread asks too. A change made
in this process is caught the same way: its first new ticket after it costs one refused
write.

SQLite's recorder checks the same way, under the database's write lock: one statement
per write under the lock, where the reads it saves were two transactions of three
statements each outside it (issue 19). A recorder that cannot check (no
``verifies_reads``) gets no notes, and reads ask as before.

Absence can be assumed too, for what a write would settle: that no SLA policy set exists
is checked by the write like a version (0). A claim found absent is not remembered as
such: the first contact that found it absent creates it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import IntegrityError, PersistenceError

ABSENT = 0  # the version noted for an aggregate assumed not to exist
ABSENCES_KEPT = 1000  # ids known absent, or to ask for again, per process (a handful)


class StaleRead(Exception):
    """A write found that an aggregate its command read from the cache had changed
    (or come into being) since, or an attempt that read from the cache failed; nothing
    of the attempt was stored."""

    def __init__(self, stale: Mapping[UUID, tuple[int, int]]):
        self.stale = dict(stale)  # id: (version assumed, version found); {}: not known
        super().__init__(
            "read from the cache, changed since: "
            + (", ".join(f"{i} (assumed v{a}, found v{f})" for i, (a, f) in self.stale.items())
               or "a failure after reads from the cache, not believed until they are asked")
        )  # fmt: skip


class AssumedReads:
    """Reads of ``repository``'s cached aggregates, without asking the database, inside
    ``scope()`` when ``enabled``; elsewhere the repository's own read (which asks)."""

    def __init__(self, repository: Repository[UUID], *, enabled: bool):
        self.repository = repository
        self.enabled = enabled
        self._local = threading.local()
        self._absent: set[UUID] = set()
        # Cached copies known or suspected stale: their next read asks. Only a saving:
        # forgetting one costs a refused write, never a stale command.
        self._must_ask: set[UUID] = set()

    @contextmanager
    def scope(self, *, asking: bool = False) -> Iterator[None]:
        """One attempt of a command whose write checks what it assumed.

        If the attempt fails in any way, what it assumed is asked for again by the next
        read (of any thread). And a failure is not believed while it may come from a stale
        copy: if the attempt read any copy unasked, its failure (an erased customer's key,
        a missing calendar, a version taken...) is raised as StaleRead, and the command
        runs again ``asking``: every read of that attempt asks, so a failure then is the
        command's own. (Not left to the next read: another thread may make it first.) A
        database that fails (unreachable, timing out, refusing writes) is no stale copy's
        doing: that failure is answered at once, as it is, so clients get their 503 as
        soon as without the cache."""
        self._local.assumed = {}
        self._local.unasked = False
        self._local.asking = asking
        try:
            yield
        except Exception as error:
            self.forget(self._local.assumed)
            if self._local.unasked and _may_come_from_a_stale_copy(error):
                raise StaleRead({}) from error
            raise
        except BaseException:
            self.forget(self._local.assumed)
            raise
        finally:
            self._local.assumed = None
            self._local.unasked = False
            self._local.asking = False

    def get(self, aggregate_id: UUID, *, absence_is_checked: bool = False) -> Any:
        """The aggregate, to read and never to change (it is the cached one itself).
        ``absence_is_checked``: the caller only reads whether it exists, and will not
        act on its absence without writing (so the write's check covers it)."""
        assumed = self._assumed()
        if assumed is not None and not self._local.asking:
            if absence_is_checked and aggregate_id in self._absent:
                assumed[aggregate_id] = ABSENT
                self._local.unasked = True
                raise AggregateNotFoundError(aggregate_id)
            cached = self._cached(aggregate_id)
            if cached is not None:
                assumed[aggregate_id] = cached.version
                self._local.unasked = True
                return cached
        try:
            found = self.repository.get(aggregate_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            if assumed is not None and absence_is_checked:
                self._remember_absent(aggregate_id)
                assumed[aggregate_id] = ABSENT
            raise
        if assumed is not None:
            assumed[aggregate_id] = found.version
        return found

    def taken(self) -> dict[UUID, int] | None:
        """What the current scope assumed so far, for its write to check (None outside
        a scope, or when nothing was assumed)."""
        assumed = self._assumed()
        return dict(assumed) if assumed else None

    def written(self, aggregate_ids: Iterable[UUID]) -> None:
        """This process wrote these: none of them is absent any more."""
        if self._absent:
            self._absent.difference_update(aggregate_ids)

    def forget(self, aggregate_ids: Mapping[UUID, Any] | set[UUID]) -> None:
        """Ask for these on their next read."""
        if len(self._must_ask) >= ABSENCES_KEPT:
            self._must_ask.clear()
        for aggregate_id in aggregate_ids:
            self._absent.discard(aggregate_id)
            self._must_ask.add(aggregate_id)

    def _cached(self, aggregate_id: UUID) -> Any:
        """The cached copy, unless there is none or it must be asked for."""
        cache = self.repository.cache
        if cache is None:
            return None
        if aggregate_id in self._must_ask:
            self._must_ask.discard(aggregate_id)  # the read that follows asks
            return None
        try:
            return cache.get(aggregate_id)
        except KeyError:
            return None

    def _assumed(self) -> dict[UUID, int] | None:
        if not self.enabled:
            return None
        return getattr(self._local, "assumed", None)

    def _remember_absent(self, aggregate_id: UUID) -> None:
        if len(self._absent) >= ABSENCES_KEPT:
            self._absent.clear()
        self._absent.add(aggregate_id)


def stale_reads(
    assumed: Mapping[UUID, int], found: Mapping[UUID, int], written: set[UUID]
) -> dict[UUID, tuple[int, int]]:
    """What a write's check finds stale: each aggregate assumed at a version that is not
    the newest ``found`` (absent: ABSENT), but those the write extends itself.
    {id: (version assumed, version found)}."""
    return {
        i: (version, found.get(i, ABSENT))
        for i, version in assumed.items()
        if i not in written and found.get(i, ABSENT) != version
    }


def _may_come_from_a_stale_copy(error: Exception) -> bool:
    """Whether a command's failure could come from what it read: anything but the
    database's own failures - except a version taken (IntegrityError), which a stale
    copy does cause."""
    if isinstance(error, StaleRead):
        return False
    if isinstance(error, IntegrityError):
        return True
    return not isinstance(error, (PersistenceError, OSError))
