"""Keeps views up to date: follow the log, apply batches, restart what fails.

The library's ProjectionRunner is not used: it constructs an Application of its own,
where the projector shares one (Clarification 10); its subscription hands the projection
one event at a time, where writing many events' rows in one transaction is what makes
catching up and rebuilding fast; and on SQLite it raises NotImplementedError. So both
backends use this follower. It reads the events after the view's recorded position in
batches and writes each batch's rows together with the batch's last position, in one
transaction: a crash at any point neither loses nor double-counts an event. The position
is re-read from the view every batch, so a rebuild that swaps tables underneath is
picked up without a restart.

Once caught up, a follower waits for more. On PostgreSQL it wakes on the NOTIFY the
event recorder sends on every insert (infrastructure.shared_log.Listener: one LISTEN
for all of a projector's followers, or one of its own for a follower built alone); it
still looks every few seconds without one, so a missed notification only delays.
SQLite cannot notify, so there the follower watches the database's files (in-memory
SQLite: looks again every 50 ms).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, DataError, Notification, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder

from application.router import Router
from application.tickets import TicketApplication
from infrastructure.file_watch import FileWatch
from infrastructure.heartbeat import ProjectorHeartbeat
from infrastructure.scheduler import FollowUpScheduler, SlaScheduler
from infrastructure.scheduler_metrics import count_runs
from infrastructure.shared_log import IdleWait, Listener, SharedLog
from infrastructure.view_failures import ViewFailures
from infrastructure.views.storable import storable
from projections.base import RowProjection, RowView

ANCHOR_CHECK_SECONDS = 1.0
log = logging.getLogger("atende.projector")

BATCH_SIZE = 500
# How many of a batch's events are decoded before their changes are computed: enough
# for one read of their customers' keys, few enough not to hold a rebuild's whole
# 20,000-event batch decoded at once (1,000 at a time made the young collections
# promote them, and a PostgreSQL queue rebuild slower: 0.47 of a raw read against 0.50).
DECODE_AHEAD = 200
POLL_SECONDS = 0.05  # in-memory SQLite: how long an idle follower waits before looking again
# How long an idle follower waits at most for a notification (PostgreSQL) or for the
# database's files to change (SQLite, infrastructure/file_watch.py) before looking again.
FALLBACK_SECONDS = 5.0
# Under load a follower that woke for every commit applied one command's events at a
# time: seven views each paying a read, a transaction and a tracking row per command
# was half the projector's and PostgreSQL's CPU (issue 19). After two batches in a row
# that caught up, a follower lets this long pass since the second began before it looks
# again, so under load each batch holds every command of the interval; a lone command
# (and the first after an idle spell) is still applied at once. It bounds how stale a
# view gets under load.
PACE_SECONDS = 0.05  # ATENDE_PROJECTOR_PACE_MS
# How long a view whose batches change nothing may leave its position unwritten while
# events stream in (written at once when the log's head is reached).
QUIET_TRACKING_SECONDS = 1.0
RESTART_WAIT_SECONDS = 1.0
# How soon the main thread runs a signal handler the kernel gave to another thread.
MAIN_THREAD_WAKE_SECONDS = 0.5
LOG_FAILURE_EVERY_SECONDS = 60.0

# What a view's write raises for text its database cannot store: PostgreSQL refuses NUL
# (psycopg's DataError, which the datastore re-raises as eventsourcing's); neither
# driver encodes a lone surrogate (UnicodeEncodeError).
UNSTORABLE = (DataError, UnicodeEncodeError)



@dataclass
class ViewFollower:
    """Brings one view from its position to the head of the log, and keeps it there."""

    app: TicketApplication
    projection: RowProjection[Any]  # its changes(event, position) feed its view's apply
    batch_size: int = BATCH_SIZE
    fallback_seconds: float = FALLBACK_SECONDS
    pace_seconds: float = PACE_SECONDS
    after_batch: Callable[[], None] | None = None  # e.g. wake the SLA clock
    watch: FailureWatch | None = None  # the live projector's; a rebuild has none
    attempting: int | None = None  # the first position of the batch being applied, if any
    quiet_seconds: float = QUIET_TRACKING_SECONDS
    # The projector's followers read and decode the log once between them (a rebuild,
    # alone, reads for itself).
    log: SharedLog | None = None
    # A position passed by batches that changed nothing in the view, not yet recorded in
    # it, and when the view's position was last written.
    _unrecorded: int | None = field(default=None, init=False, repr=False)
    _recorded_at: float = field(default=-math.inf, init=False, repr=False)

    @property
    def view(self) -> RowView[Any]:
        return self.projection.view

    def position(self) -> int:
        if self._unrecorded is not None:
            return self._unrecorded
        return self.view.max_tracking_id(self.app.name) or 0

    def step(self) -> int:
        """Process the next batch; return how many events it held."""
        self.attempting = None
        try:
            return self._step()
        except Exception:
            # The view may have moved on without this follower (another projector wrote
            # past the position it held in memory, and the batch was refused): after a
            # failure the position is read from the view again.
            self._unrecorded = None
            raise

    def _step(self) -> int:
        notifications = self._read(self.position())
        if not notifications:
            self._record_quiet_position()
            return 0
        self._apply_or_name_the_failure(notifications)
        self.attempting = None
        self._passed(notifications[-1].id)
        return len(notifications)

    def _read(self, position: int) -> list[Notification]:
        if self.log is not None:
            return self.log.read(position, self.batch_size)
        return self.app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )

    def _decode(self, notification: Notification) -> Any:
        if self.log is not None:
            return self.log.event(notification)
        return self.app.mapper.to_domain_event(notification)

    def _apply_or_name_the_failure(self, notifications: list[Notification]) -> None:
        try:
            self._apply(notifications)
        except Exception:
            if len(notifications) == 1:
                raise
            # One at a time: the view gets as far as it can, and a failure names the
            # very event that fails.
            for notification in notifications:
                self._apply([notification])

    def _apply(self, notifications: list[Notification]) -> None:
        self.attempting = notifications[0].id
        changes = self._changes(notifications)
        tracking = Tracking(self.app.name, notifications[-1].id)
        if not changes and time.monotonic() - self._recorded_at < self.quiet_seconds:
            # Nothing to write but the position: under load that is a commit per batch
            # for each view the events do not concern (an outbox with no subscriber:
            # every batch). Kept in memory a while instead; should the process stop
            # before it is written, the batches are read again and change nothing again.
            self._unrecorded = tracking.notification_id
            return
        self._write(changes, tracking)

    def _changes(self, notifications: list[Notification]) -> list[Any]:
        changes = []
        # A projection that shows few kinds of event says which from the topic, so the
        # others are never decoded (an outbox with no subscriber reads almost nothing).
        wants = getattr(self.projection, "wants", None)
        ahead = DECODE_AHEAD if getattr(self.projection, "decodes_ahead", True) else 1
        for start in range(0, len(notifications), ahead):
            # Decoded a slice ahead of their changes: the keys of the customers whose
            # values the changes decipher are then read together, on the first one
            # missing (KeyRing.gather_sighted), not one read per customer.
            decoded = [
                (notification.id, self._decode(notification))
                for notification in notifications[start : start + ahead]
                if wants is None or wants(notification.topic, notification.id)
            ]
            for position, event in decoded:
                changes.extend(self.projection.changes(event, position))
        return changes

    def _write(self, changes: list[Any], tracking: Tracking) -> None:
        try:
            self.view.apply(changes, tracking)
        except UNSTORABLE:
            # Events stored before the boundaries refused such text may hold some that
            # the database cannot store: their rows get it replaced (views.storable).
            # Only then: making every change storable up front costs microseconds a
            # change, which a rebuild pays for every event in the log.
            self.view.apply(storable(changes), tracking)
        self._unrecorded = None
        self._recorded_at = time.monotonic()

    def _record_quiet_position(self) -> None:
        """Once the log is read to its head, the position is written whatever changed:
        an idle view shows no lag."""
        if self._unrecorded is not None:
            self._write([], Tracking(self.app.name, self._unrecorded))

    def _passed(self, position: int | None) -> None:
        """Events up to ``position`` are applied (None: all of them, and nothing failed
        since: the follower is idle)."""
        if self.watch is not None:
            self.watch.passed(position)

    def catch_up(
        self, progress: Callable[[int], None] | None = None, *, write_behind: bool = False
    ) -> None:
        if write_behind:
            self._catch_up_writing_behind(progress or (lambda count: None))
            return
        while count := self.step():
            if progress is not None:
                progress(count)

    def _catch_up_writing_behind(self, progress: Callable[[int], None]) -> None:
        """``catch_up`` for a follower alone on its view (a rebuild's fresh tables): each
        batch's rows are written by a thread of its own while the next batch is read and
        its changes made, so the database's work on one batch overlaps Python's on the
        next (a projection's changes never read its view). Batches still commit one at a
        time, in order, each with its position. A batch whose changes or write fail is
        applied again alone, after those before it are written, as ``step`` applies it:
        a failure names the event that fails."""
        position = self.position()
        with ThreadPoolExecutor(1, thread_name_prefix="view-writer") as writer:
            behind: tuple[Future[None], list[Notification]] | None = None
            while notifications := self._read(position):
                try:
                    changes = self._changes(notifications)
                except Exception:  # noqa: BLE001 - made again below, where it is named
                    changes = None
                if behind is not None:
                    self._written(*behind, progress)
                    behind = None
                if changes is None:
                    self._apply_or_name_the_failure(notifications)
                    progress(len(notifications))
                else:
                    tracking = Tracking(self.app.name, notifications[-1].id)
                    behind = (writer.submit(self._write, changes, tracking), notifications)
                position = notifications[-1].id
            if behind is not None:
                self._written(*behind, progress)
        self.attempting = None

    def _written(
        self,
        write: Future[None],
        notifications: list[Notification],
        progress: Callable[[int], None],
    ) -> None:
        try:
            write.result()
        except Exception:  # noqa: BLE001 - applied again alone, where it is named
            self._apply_or_name_the_failure(notifications)
        progress(len(notifications))

    def run(self, stop: threading.Event) -> None:
        with self._idle_wait() as wait:
            changed = True  # events applied since the last caught_up (True: once at start)
            previous = 0  # events the step before this one applied
            while not stop.is_set():
                began = time.monotonic()
                count = self.step()
                changed = changed or count > 0
                # A batch short of full read up to the head of the log.
                if count < self.batch_size and changed:
                    self.caught_up()
                    changed = False
                if count == 0:
                    self._passed(None)  # the log, and what caught_up did, all done
                    wait(stop)
                    previous = 0
                    continue
                if self.after_batch is not None:
                    self.after_batch()
                # Caught up, and events came in step after step: commits are streaming
                # in, so let the next ones gather. After a lone command (the step before
                # found nothing) look again at once: a client that writes and then
                # reads its write must not wait out the pace.
                if previous and count < self.batch_size:
                    stop.wait(self.pace_seconds - (time.monotonic() - began))
                previous = count

    def _idle_wait(self) -> AbstractContextManager[IdleWait]:
        alone = partial(idle_wait, self.app.recorder, self.fallback_seconds)
        if self.log is not None:
            return self.log.idle_wait(self.fallback_seconds, alone)
        return alone()

    def caught_up(self) -> None:
        """Called once the view has caught up with the log after new events (and once
        at start): for work that needs a view as current as the log. Nothing by default."""


@dataclass
class RoutingFollower(ViewFollower):
    """Follows the routing view and, whenever it has caught up with the log, lets the
    router make a round. Rounds only run on a caught-up view, so a replay from position
    0 routes nothing until it has seen every assignment already on record."""

    router: Router = field(kw_only=True)

    def caught_up(self) -> None:
        self.router.route()


def idle_wait(
    recorder: ApplicationRecorder, fallback_seconds: float
) -> AbstractContextManager[IdleWait]:
    if isinstance(recorder, PostgresApplicationRecorder):
        # A follower on its own (tests, one-off callers) listens on a listener of its own.
        return Listener(recorder).waiting(fallback_seconds)
    pool = getattr(recorder.datastore, "pool", None)
    database = getattr(pool, "db_name", "")
    if not database or getattr(pool, "is_sqlite_memory_mode", False):
        return polling(POLL_SECONDS)  # nothing on disk to watch
    return watching(FileWatch.of(database), fallback_seconds)


@contextmanager
def watching(watch: FileWatch, fallback_seconds: float) -> Iterator[IdleWait]:
    yield watch.waiter(fallback_seconds)


@contextmanager
def polling(seconds: float) -> Iterator[IdleWait]:
    yield lambda stop: stop.wait(seconds)


@dataclass
class FailureWatch:
    """A view's failures: recorded in the failures table on every attempt, logged at
    most once a minute (not once a retry), and cleared once the view gets past them."""

    name: str
    failures: ViewFailures
    stuck_at: int | None = None  # the position that failed; 0 when not an event's
    last_logged: float = -math.inf

    def resume(self) -> None:
        """Take over a failure a previous projector recorded, so it is cleared too."""
        failure = self.failures.all().get(self.name)
        if failure is not None:
            self.stuck_at = failure.position or 0

    def failed(self, error: Exception, position: int | None) -> None:
        self.stuck_at = position or 0
        now = time.monotonic()
        if now - self.last_logged >= LOG_FAILURE_EVERY_SECONDS:
            self.last_logged = now
            where = f"at position {position}" if position is not None else "outside any event"
            log.error(
                "view %s failing %s; retrying every %.0f s (logged at most once a minute)",
                self.name, where, RESTART_WAIT_SECONDS, exc_info=error,
            )  # fmt: skip
        try:
            self.failures.record(self.name, position, error)
        except Exception:  # the database is what failed: the log line above says so
            log.debug("could not record the failure of view %s", self.name, exc_info=True)

    def passed(self, position: int | None) -> None:
        """The view applied events up to ``position`` (None: it is idle at the head)."""
        if self.stuck_at is None:
            return
        # A failure that was not an event's (stuck_at 0: the router's round, reading the
        # log) is over only once the follower is idle with nothing failing.
        past = position is None or (self.stuck_at > 0 and position >= self.stuck_at)
        if not past:
            return
        self.failures.clear(self.name)
        self.stuck_at = None
        log.info("view %s got past its failure", self.name)


def supervise(
    name: str, follower: ViewFollower, stop: threading.Event, failures: ViewFailures
) -> threading.Thread:
    """Run a follower in a thread, restarting it after a failure (the database went
    away, a deploy raced a migration, an event the view cannot apply) until ``stop``
    is set; each failure is recorded where health checks and metrics see it."""
    watch = follower.watch = FailureWatch(name, failures)

    def loop() -> None:
        while not stop.is_set():
            try:
                if watch.stuck_at is None:
                    watch.resume()
                follower.run(stop)
            except Exception as error:  # noqa: BLE001 - watch.failed logs and records it
                watch.failed(error, follower.attempting)
                stop.wait(RESTART_WAIT_SECONDS)

    thread = threading.Thread(target=loop, name=f"view-{name}", daemon=True)
    thread.start()
    return thread


def supervise_service(
    name: str, run: Callable[[threading.Event], None], stop: threading.Event
) -> threading.Thread:
    """Run ``run(stop)`` in a thread, starting it again a second after it fails."""

    def loop() -> None:
        while not stop.is_set():
            try:
                run(stop)
            except Exception:  # logged; it starts again
                log.exception("%s failed; starting it again in %.0f s", name, RESTART_WAIT_SECONDS)
                stop.wait(RESTART_WAIT_SECONDS)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


@dataclass
class Projector:
    """The projector process's work, built by the wiring point (interface/wiring.py): a
    follower per view, each in a supervised thread, the SLA clock, and the scheduler
    of the follow-up sweep and the periodic jobs, with the heartbeat that says all of
    it is alive."""

    followers: dict[str, ViewFollower]
    clock: SlaScheduler
    scheduler: FollowUpScheduler
    heartbeat: ProjectorHeartbeat
    view_failures: ViewFailures
    # Connections of its own (the NATS client's), closed once every follower stopped.
    connections: list[Any] = field(default_factory=list)
    # Loops that are not followers (the webhook dispatcher), each run until ``stop``.
    services: dict[str, Callable[[threading.Event], None]] = field(default_factory=dict)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set; each follower finishes its current batch."""
        threads = [
            supervise(name, follower, stop, self.view_failures)
            for name, follower in self.followers.items()
        ]
        threads += [supervise_service(name, run, stop) for name, run in self.services.items()]
        self.heartbeat.start(self.scheduler.scheduler)
        for scheduler in (self.clock.scheduler, self.scheduler.scheduler):
            count_runs(scheduler)
        self.clock.start()
        self.scheduler.start()
        log.info(
            "projector following %s; SLA clock, follow-up and router running",
            ", ".join(self.followers),
        )
        # Waits in slices: Python runs a signal's handler (which sets ``stop``) only in
        # the main thread, between bytecodes, and the kernel may hand SIGTERM to another
        # of this process's threads. Then nothing interrupts an endless wait, and the
        # process would ignore SIGTERM until it was killed (seen once in CI).
        while not stop.wait(MAIN_THREAD_WAKE_SECONDS):
            pass
        self.scheduler.shutdown()
        self.clock.shutdown()
        for thread in threads:
            thread.join()
        for connection in self.connections:
            connection.close()
        self.heartbeat.stop()


def add_checkpoint_job(scheduler: Any, anchor_if_due: Callable[[datetime], Any]) -> None:
    """Anchor the audit chain's head once 1,000 events or ATENDE_CHECKPOINT_INTERVAL (60 s)
    passed since the newest anchor: asked every second (one indexed read), on the
    follow-up scheduler's thread: one more timer is not worth a scheduler of its own."""

    def anchor() -> None:
        try:
            anchor_if_due(datetime.now(UTC))
        except Exception:  # logged; the next second tries again
            log.exception("audit anchor failed")

    scheduler.add_job(
        anchor, "interval", seconds=ANCHOR_CHECK_SECONDS,
        id="audit-checkpoint", coalesce=True, max_instances=1,
    )  # fmt: skip
