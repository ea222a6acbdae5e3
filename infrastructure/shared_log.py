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
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification

# Events kept, at least: several followers' batches under load, and a restarted
# projector's catch-up in batches of the batch size. Past twice as many, or past
# KEEP_BYTES of stored events (long messages), the oldest go.
KEEP_EVENTS = 2000
KEEP_BYTES = 64 * 1024 * 1024


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
