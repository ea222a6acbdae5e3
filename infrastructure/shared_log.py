"""One read and one decode of the log for all the followers of a projector process.

Each view's follower read the new events and decoded every one it wanted on its own: under
load, eight reads of the same rows every pace and up to eight decodes of each event. That
was over a third of the projector's Python time on PostgreSQL, and most of what its
connections cost the server (issue 19). The followers move close together, so the events
any of them read last are kept here, decoded at most once, for the others.

What is kept is a window: every event with a position in (start, end], as one read (or
reads that joined up) found them. The window may be trusted whole because events are
committed in position order: PostgreSQL inserts under the events table's lock, SQLite has
one writer. So once a read returned events up to ``end``, no later commit adds one at or
below it, which the followers already rely on when they read after their own position.

A follower whose position falls inside the window takes its batch from it: what a read
at the moment the window was read would have returned, so it sees new events a little
later but never one out of order or skipped. A follower at the window's end or outside
it reads the database itself, and that read extends the window. So "nothing new" is
always the database's answer, and a follower goes idle only on it.

The events handed out are shared between followers, not copied: the library's events are
frozen dataclasses, projections only read them, and personal values inside stay sealed
(infrastructure.crypto's SealedPersonal, deciphered on each read, "[erased]" once an
erasure destroyed the key), so keeping them decoded keeps nothing in the clear.

On PostgreSQL the followers also share one LISTEN (``idle_wait``). With one connection
listening per follower, every commit's NOTIFY woke eight server processes: 0.4 ms of
PostgreSQL's CPU per ticket opened under load. One listener thread counts the
notifications; an idle follower waits for the count to pass the one it last saw, so
every insert committed after its last look still wakes it (the count it saw was taken
before that look), and a notification lost while the listener reconnects only delays,
as before, by the fallback wait.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

log = logging.getLogger("atende.projector")

# Events kept, at least: several followers' batches under load, and a restarted
# projector's catch-up in batches of the batch size. Past twice as many, or past
# KEEP_BYTES of stored events (long messages), the oldest go.
KEEP_EVENTS = 2000
KEEP_BYTES = 64 * 1024 * 1024
# How soon the listener notices that no follower waits any more, and a waiting follower
# that it should stop (each check is a wake-up: seven views checking ten times a second
# were 4 % of a core when idle); and how long it waits before listening again after its
# connection failed.
LISTENER_CHECK_SECONDS = 1.0
LISTENER_RETRY_SECONDS = 1.0
# How long a follower lets a new listener start before it looks at the log: LISTEN takes
# milliseconds when the database answers; when it does not, the look fails anyway, and
# the follower's restart (after a second) should not wait longer than that.
LISTENER_START_SECONDS = 1.0

# Waits, while idle, until there may be new events or ``stop`` is set.
IdleWait = Callable[[threading.Event], None]


class SharedLog:
    def __init__(self, recorder: ApplicationRecorder, mapper: Mapper[Any], keep: int = KEEP_EVENTS):
        self._recorder = recorder
        self._mapper = mapper
        self._keep = keep
        self._lock = threading.Lock()
        self._start = 0  # the window holds every event in (_start, _ids[-1]]
        self._ids: list[int] = []
        self._notifications: list[Notification] = []
        self._events: dict[int, Any] = {}  # decoded, by position, for those in the window
        self._bytes = 0  # of the stored events in the window
        self._listener = (
            Listener(recorder) if isinstance(recorder, PostgresApplicationRecorder) else None
        )

    def idle_wait(
        self, fallback_seconds: float, alone: Callable[[], AbstractContextManager[IdleWait]]
    ) -> AbstractContextManager[IdleWait]:
        """A follower's idle wait: on PostgreSQL the shared listener's, elsewhere what
        ``alone`` makes for the follower on its own (SQLite watches its files)."""
        if self._listener is None:
            return alone()
        return self._listener.waiting(fallback_seconds)

    def read(self, start: int, limit: int) -> list[Notification]:
        """The events after position ``start``, at most ``limit``, oldest first."""
        with self._lock:
            if self._ids and self._start <= start < self._ids[-1]:
                first = bisect_right(self._ids, start)
                return self._notifications[first : first + limit]
        notifications = self._recorder.select_notifications(
            start=start, limit=limit, inclusive_of_start=False
        )
        with self._lock:
            self._keep_read(start, notifications)
        return notifications

    def event(self, notification: Notification) -> Any:
        """The notification's domain event, decoded once while it is in the window."""
        event = self._events.get(notification.id)
        if event is None:
            event = self._mapper.to_domain_event(notification)
            with self._lock:
                if self._ids and self._start < notification.id <= self._ids[-1]:
                    self._events[notification.id] = event
        return event

    def _keep_read(self, start: int, notifications: list[Notification]) -> None:
        if not notifications:
            return
        end = self._ids[-1] if self._ids else None
        if end is not None and self._start <= start <= end:
            # Joins the window (or overlaps it: two followers read the same events).
            fresh = [n for n in notifications if n.id > end]
            self._ids.extend(n.id for n in fresh)
            self._notifications.extend(fresh)
            self._bytes += sum(len(n.state) for n in fresh)
        elif end is None or start > end:
            # Past the window, or none yet: what lies between is unknown, so start over.
            self._start = start
            self._ids = [n.id for n in notifications]
            self._notifications = list(notifications)
            self._events.clear()
            self._bytes = sum(len(n.state) for n in notifications)
        else:
            return  # a follower behind the window: keep the window the others use
        self._trim()

    def _trim(self) -> None:
        if len(self._ids) <= 2 * self._keep and self._bytes <= KEEP_BYTES:
            return
        dropped = max(len(self._ids) - self._keep, 0)
        self._bytes -= sum(len(n.state) for n in self._notifications[:dropped])
        while self._bytes > KEEP_BYTES // 2 and dropped < len(self._ids) - 1:
            self._bytes -= len(self._notifications[dropped].state)
            dropped += 1
        if not dropped:
            return
        self._start = self._ids[dropped - 1]
        del self._ids[:dropped]
        del self._notifications[:dropped]
        self._events = {i: e for i, e in self._events.items() if i > self._start}


class Listener:
    """One LISTEN on the events' channel for every follower of the process, run in a
    thread of its own while at least one follower is waiting (or between waits)."""

    def __init__(self, recorder: PostgresApplicationRecorder):
        self._recorder = recorder
        self._changed = threading.Condition()
        self._count = 0  # notifications (and reconnections) so far
        self._users = 0
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()

    @contextmanager
    def waiting(self, fallback_seconds: float) -> Iterator[IdleWait]:
        with self._changed:
            self._users += 1
            if self._thread is None or not self._thread.is_alive():
                self._listening.clear()
                self._thread = threading.Thread(
                    target=self._listen, name="events-listener", daemon=True
                )
                self._thread.start()
            seen = [self._count]  # before the follower's first look at the log
        # The first look must come after LISTEN, or a commit in between wakes nobody
        # until the fallback. Should the database be away, the look fails anyway.
        self._listening.wait(LISTENER_START_SECONDS)
        try:
            yield lambda stop: self._wait(seen, fallback_seconds, stop)
        finally:
            with self._changed:
                self._users -= 1

    def _wait(self, seen: list[int], fallback_seconds: float, stop: threading.Event) -> None:
        deadline = time.monotonic() + fallback_seconds
        with self._changed:
            while not stop.is_set() and self._count == seen[0]:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, LISTENER_CHECK_SECONDS))
            seen[0] = self._count

    def _wake_all(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def _goes_on(self) -> bool:
        """Whether this listener thread should go on listening: a follower waits, and
        no newer listener took over."""
        with self._changed:
            if self._thread is not threading.current_thread():
                return False
            if self._users:
                return True
            self._thread = None  # the next follower to wait starts another
            return False

    def _listen(self) -> None:
        while self._goes_on():
            try:
                self._listen_once()
            except Exception:  # the database went away: followers fall back meanwhile
                log.warning("events listener failed; listening again", exc_info=True)
                time.sleep(LISTENER_RETRY_SECONDS)

    def _listen_once(self) -> None:
        channel = SQL("LISTEN {0}").format(Identifier(self._recorder.channel_name))
        with self._recorder.datastore.get_connection() as conn:
            conn.execute(channel)
            try:
                self._listening.set()
                self._wake_all()  # whatever was committed while nobody listened
                while self._goes_on():
                    if list(conn.notifies(timeout=LISTENER_CHECK_SECONDS, stop_after=1)):
                        list(conn.notifies(timeout=0))  # one wake-up for all queued
                        self._wake_all()
            finally:
                if not conn.broken:  # it goes back to the pool
                    conn.execute("UNLISTEN *")
