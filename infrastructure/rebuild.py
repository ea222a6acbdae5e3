"""Rebuild a view from position 0 into fresh tables while the live ones keep serving,
then swap them in one transaction. A rebuild killed half way resumes from the position
its fresh tables recorded, so re-running it ends identical."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

from application.tickets import TicketApplication
from infrastructure.crypto import KeyRing
from infrastructure.heap import fewer_collections, freeze_startup_heap
from infrastructure.projector import ViewFollower
from infrastructure.sql import SqlDatabase
from infrastructure.views.registry import VIEWS, Views

NEXT = "__next"
# Large batches: fewer, bigger transactions (on SQLite each commit checkpoints the WAL).
REBUILD_BATCH_SIZE = 20000


class Progress:
    """Events/s and ETA: a redrawn bar on a terminal, plain lines otherwise."""

    def __init__(self, name: str, done: int, total: int, stream: TextIO):
        self.name, self.done, self.total, self.stream = name, done, total, stream
        self.started, self.start_done = time.monotonic(), done
        self.is_tty = stream.isatty()
        self.last_line = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.is_tty or now - self.last_line >= 1.0 or self.done >= self.total:
            self.last_line = now
            self._show(now)

    def _show(self, now: float) -> None:
        rate = (self.done - self.start_done) / max(now - self.started, 1e-9)
        eta = (self.total - self.done) / rate if rate else 0.0
        share = self.done / self.total if self.total else 1.0
        text = (
            f"{self.name}: {self.done}/{self.total} events ({share:.0%}), "
            f"{rate:,.0f} events/s, ETA {eta:,.0f} s"
        )
        if self.is_tty:
            bar = "#" * int(share * 30)
            self.stream.write(f"\r[{bar:<30}] {text}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.is_tty:
            self.stream.write("\n")


class Wired(Protocol):
    """What a rebuild needs of a wired Atende."""

    db: SqlDatabase
    tickets: TicketApplication
    views: Views
    keys: KeyRing


def rebuild(atende: Wired, name: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    # A batch's 20,000 events and their row changes live until the batch is written, so
    # the collector promotes them and runs full collections, each walking every object
    # the process holds: 8 of them, 0.6-0.9 s of a 3.5 s rebuild of 100,000 events on
    # PostgreSQL (gc.callbacks, issue 19). What the process holds before the rebuild is
    # frozen out of their way, as the server's workers do with their start-up heap, and
    # stays so: those objects live as long as the process anyway.
    freeze_startup_heap()
    atende.keys.gather_sighted()  # a batch's customers' keys in one read, not one each
    kind = VIEWS[name]
    fresh = kind.make(atende.db.datastore, suffix=NEXT)
    with atende.db.schema_lock():
        fresh.create_table()
        atende.db.create_tables(fresh.drop_query_indexes_ddl())
    follower = ViewFollower(atende.tickets, kind.projection(view=fresh), REBUILD_BATCH_SIZE)
    head = atende.tickets.head_position()
    progress = Progress(name, follower.position(), head, stream)
    with fewer_collections():
        # Written behind only on PostgreSQL, where the writing thread waits on the server
        # with the GIL released. SQLite's driver takes the GIL back for every row it
        # steps, and the two threads then queued for it: a 100,000-event rebuild took
        # 3.1 s written behind against 2.7 s in turn.
        follower.catch_up(progress.advance, write_behind=atende.db.is_postgres)
    progress.finish()
    position = follower.position()
    if atende.db.is_postgres:
        # Built before the swap, which renames them (SQLite's swap creates every index
        # anew under its live name, and these with them).
        with atende.db.schema_lock():
            atende.db.create_tables(fresh.query_index_ddl())
        # Tables filled in bulk have no column statistics until autovacuum gets round to
        # them, and the planner guesses meanwhile: the 30-day agents report took 150 ms
        # on a fresh reports table and 50 ms once analyzed. Statistics survive the rename.
        atende.db.analyze(fresh.owned_tables())
    promote(atende, fresh, atende.views[name])
    stream.write(f"{name}: rebuilt to position {position} and swapped in\n")


def promote(atende: Wired, fresh: Any, live: Any) -> None:
    with atende.db.schema_lock(), atende.db.transaction(commit=True) as cursor:
        for statement in fresh.promote_statements(live):
            cursor.execute(statement)
