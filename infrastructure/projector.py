"""Keeps views up to date: follow the log, apply batches, restart what fails.

SQLite has no subscriptions in eventsourcing (its ProjectionRunner raises
NotImplementedError), and the library's runner builds its own Application where the
projector must share one; so both backends use this follower. It reads the events
after the view's recorded position in batches and writes each batch's rows together
with the batch's last position, in one transaction: a crash at any point neither loses
nor double-counts an event. The position is re-read from the view every batch, so a
rebuild that swaps tables underneath is picked up without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from application.tickets import TicketApplication
from infrastructure.views.registry import VIEWS

log = logging.getLogger("atende.projector")

BATCH_SIZE = 500
IDLE_WAIT_SECONDS = 0.05
RESTART_WAIT_SECONDS = 1.0


@dataclass
class ViewFollower:
    """Brings one view from its position to the head of the log."""

    app: TicketApplication
    projection: Any  # a Projection whose ``changes(event, position)`` feeds ``view.apply``
    batch_size: int = BATCH_SIZE

    @property
    def view(self) -> Any:
        return self.projection.view

    def position(self) -> int:
        return self.view.max_tracking_id(self.app.name) or 0

    def step(self) -> int:
        """Process the next batch; return how many events it held."""
        notifications = self.app.recorder.select_notifications(
            start=self.position(), limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            return 0
        changes = []
        for notification in notifications:
            event = self.app.mapper.to_domain_event(notification)
            changes.extend(self.projection.changes(event, notification.id))
        self.view.apply(changes, Tracking(self.app.name, notifications[-1].id))
        return len(notifications)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> None:
        while count := self.step():
            if progress is not None:
                progress(count)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.step() == 0:
                stop.wait(IDLE_WAIT_SECONDS)


def supervise(name: str, follower: ViewFollower, stop: threading.Event) -> threading.Thread:
    """Run a follower in a thread, restarting it after a failure (the database went
    away, a deploy raced a migration) until ``stop`` is set."""

    def loop() -> None:
        while not stop.is_set():
            try:
                follower.run(stop)
            except Exception:
                log.exception("view %s failed; restarting in %.0f s", name, RESTART_WAIT_SECONDS)
                stop.wait(RESTART_WAIT_SECONDS)

    thread = threading.Thread(target=loop, name=f"view-{name}", daemon=True)
    thread.start()
    return thread


def run_projector(atende: Any, stop: threading.Event) -> None:
    """Follow every view until ``stop`` is set; each thread finishes its current batch."""
    batch = atende.settings.projector_batch_size
    threads = [
        supervise(
            name, ViewFollower(atende.tickets, VIEWS[name].projection(view=view), batch), stop
        )
        for name, view in atende.views.items()
    ]
    log.info("projector following %s", ", ".join(atende.views))
    stop.wait()
    for thread in threads:
        thread.join()
