"""A ticket loaded in one read: its newest snapshot and the events after it together.

The library's Repository loads a snapshotted aggregate in two queries, the newest snapshot
and then the events after its version; on PostgreSQL each is a round trip, and every
command on a ticket starts with such a load (a message's five round trips, issue 19).
Where the snapshot store's recorder answers both in one statement
(``select_newest_and_after``, infrastructure/recorders.py), this repository asks it
instead. A load at a version (as-of, idempotent replays), a recorder without it, or a
newest snapshot that is refused (its seal does not hold, infrastructure/snapshot_seals.py)
goes the library's way, which reads on past a refused snapshot.

The one statement sees one committed state, where the library's two reads may straddle a
commit; a command's write refuses a version taken meanwhile either way.

A command (TicketApplication.change) also reads ahead: the same statement fetches its SLA
timers' events after the version this process keeps, which the command's save would
otherwise ask for in a round trip of its own after the command ran. They are left with
the event recorder for that read, in the command's scope only (infrastructure/
read_ahead.py). A message on PostgreSQL: 5 round trips -> 3.

A repository with a cache (TicketApplication.recent_tickets) also keeps, per process, the
ticket each command loaded: the next command on it reads only the events written since
(with the timers', in one statement, ``select_after``) and gets a copy of the kept ticket
brought up to them (Ticket.copy_to_change, a few microseconds where a load replayed up to
a hundred events since the newest snapshot). The command sees what a load would: every
event the log holds at that read, by whichever process wrote it. The kept ticket itself is
never handed to a command; it is replaced by a brought-up copy, so a command or a
fast-forward that fails half-way leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from itertools import chain
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository


class OneReadRepository(Repository[UUID]):
    def __init__(self, *args: Any, keeps: Callable[[Any], bool] | None = None, **kwargs: Any):
        """``keeps``: whether ``get_to_change`` may keep an aggregate in the cache (which
        must then have ``copy_to_change``); by default none is kept."""
        super().__init__(*args, **kwargs)
        self.keeps = keeps or (lambda _: False)

    def get_reading_ahead(
        self, aggregate_id: UUID, ahead: Mapping[UUID, int | None], projector_func: Any
    ) -> Any:
        """The aggregate as it is now, like ``get``; in the same read, the events of
        ``ahead``'s aggregates after the versions given (None: all of them) are fetched
        and left with the event recorder, for the read that asks for them in the
        command's scope (infrastructure/read_ahead.py)."""
        return self._load(aggregate_id, projector_func, ahead)

    def get_to_change(
        self, aggregate_id: UUID, ahead: Mapping[UUID, int | None], projector_func: Any
    ) -> Any:
        """The aggregate as it is now, for a command to change, reading ahead like
        ``get_reading_ahead``: a copy of the kept one brought up to date, or loaded (and
        kept, if ``keeps`` says so)."""
        if self.cache is None:
            return self._load(aggregate_id, projector_func, ahead)
        lock = self._use_fastforward_lock(aggregate_id)  # the library's, per aggregate
        try:
            with lock:
                try:
                    kept = self.cache.get(aggregate_id)
                except KeyError:
                    found = self._load(aggregate_id, projector_func, ahead)
                else:
                    found = self._brought_up(kept, projector_func, ahead)
                if not self.keeps(found):
                    # Never kept, or grown past what is: a new object either way (what
                    # was kept passed ``keeps``, and only new events change it), the
                    # caller's alone.
                    with suppress(KeyError):
                        self.cache.get(aggregate_id, evict=True)
                    return found
                self.cache.put(aggregate_id, found)
                return found.copy_to_change()
        finally:
            self._disuse_fastforward_lock(aggregate_id)

    def _brought_up(self, kept: Any, projector_func: Any, ahead: Mapping[UUID, int | None]) -> Any:
        """A copy of ``kept`` with the events written since it was kept (``kept`` itself
        if there are none), and ``ahead``'s left with the event recorder."""
        snapshots = self.snapshot_store.recorder if self.snapshot_store else None
        after = getattr(snapshots, "select_after", None)
        if after is None:
            new = list(self.event_store.get(kept.id, gt=kept.version))
        else:
            found = after(kept.id, kept.version, ahead)
            self._keep_ahead(found.ahead, ahead)
            new = list(map(self.event_store.mapper.to_domain_event, found.events))
        if not new:
            return kept
        return projector_func(kept.copy_to_change(), new)

    def _keep_ahead(
        self, found: Mapping[UUID, Any], ahead: Mapping[UUID, int | None]
    ) -> None:
        keep = getattr(self.event_store.recorder, "answer_ahead", None)
        if keep is not None:
            for other, events in found.items():
                keep(other, ahead[other], events)

    def _reconstruct_aggregate(self, aggregate_id: UUID, version: int | None, projector_func: Any):
        if version is not None:
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        return self._load(aggregate_id, projector_func, {})

    def _load(self, aggregate_id: UUID, projector_func: Any, ahead: Mapping[UUID, int | None]):
        together = getattr(
            self.snapshot_store.recorder if self.snapshot_store else None,
            "select_newest_and_after",
            None,
        )
        found = together(aggregate_id, ahead) if together else None
        if found is None:
            return super()._reconstruct_aggregate(aggregate_id, None, projector_func)
        assert self.snapshot_store is not None  # found only through it
        self._keep_ahead(found.ahead, ahead)
        aggregate = projector_func(
            None,
            chain(
                [self.snapshot_store.mapper.to_domain_event(found.snapshot)]
                if found.snapshot
                else [],
                map(self.event_store.mapper.to_domain_event, found.events),
            ),
        )
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version None not found.")
        return aggregate
