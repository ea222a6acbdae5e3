"""Group commit on PostgreSQL: the event writes one process has waiting share one
transaction, one lock of the events table, one read of the hash chain's head and one
COMMIT (issue 19).

Every event write takes the events table's EXCLUSIVE lock, the library's way of keeping
positions in commit order, and holds it across a round trip, the Python that hashes the
new links, and the COMMIT. Under create load 7-11 backends waited on that lock and a
fifth of the cores sat idle (sessions 25 and 27). When a worker's requests queue up,
whichever has the process's turn now writes all of them in one go (``Turns``, as SQLite's
group commit does), so the lock is taken, and waited for, once per batch, not per write.

Unlike SQLite's group commit, a batch does not put each write in a savepoint: in a
pipeline, rolling one back would wait for the error's answer, a round trip under the
lock for every write. The batch is optimistic instead. When the database refuses any of
its writes (a version conflict, a duplicate reference, an assumption found stale), it is
rolled back as a whole and each of its writes is made again alone, as if there had been
no batch, so each is answered as itself. A lost connection is every write's failure:
each one's own retry asks whether it was stored (``PostgresTicketRecorder.insert_events``).

A batch takes writes on distinct aggregates, none of which another write in it assumed
unchanged (application/assumed_reads.py): written one after the other, the later would
have been refused, so they wait for the next turn instead. The chain's links are
hashed in position order across the batch, as if the writes had come one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)

from application.assumed_reads import StaleRead
from infrastructure.group_commit import OptimisticTurns, QueuedWrite
from infrastructure.sql import as_uuid

# What the database's refusal of a batch looks like: the batch is redone write by write.
# Connection failures (InterfaceError, OperationalError, including a lock timeout) are
# not refusals: they are every write's, and each write's own retry deals with them.
_REFUSALS = (PersistenceError, StaleRead)
_LOST = (InterfaceError, OperationalError)


@dataclass
class EventWrite:
    """One command's write: its events and what the recorder writes with them."""

    events: Sequence[StoredEvent]
    occurred_at: Sequence[datetime] = ()
    assumed: Mapping[UUID, int] | None = None
    side: dict[str, Any] = field(default_factory=dict)  # idempotency, erase_key_of

    @property
    def aggregates(self) -> set[UUID]:
        return {as_uuid(e.originator_id) for e in self.events}

    @property
    def assumes(self) -> set[UUID]:
        return set(self.assumed or ())


class PostgresGroupCommit(OptimisticTurns):
    """Runs ``write(writes)``, which writes a batch in one transaction and returns each
    write's positions, for the event writes a process has queued."""

    def __init__(self, write: Callable[[list[EventWrite]], list[list[int]]]):
        super().__init__("events")
        self._write = write

    def _batch(self, pending: list[QueuedWrite]) -> tuple[list[QueuedWrite], list[QueuedWrite]]:
        taken: list[QueuedWrite] = []
        left: list[QueuedWrite] = []
        written: set[UUID] = set()
        assumed: set[UUID] = set()
        for queued in pending:
            write: EventWrite = queued.work
            aggregates = write.aggregates
            if taken and (aggregates & (written | assumed) or write.assumes & written):
                left.append(queued)
                continue
            taken.append(queued)
            written |= aggregates
            assumed |= write.assumes
        return taken, left

    def _write_batch(self, works: list[EventWrite]) -> list[list[int]]:
        return self._write(works)

    def _redo_alone(self, error: Exception) -> bool:
        return isinstance(error, _REFUSALS) and not isinstance(error, _LOST)
