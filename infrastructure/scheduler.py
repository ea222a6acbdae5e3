"""The SLA clock on APScheduler: one job, re-armed for the next due warning or breach
(never a fixed slow poll), and woken early when the SLA view learns of an earlier one.

APScheduler only triggers; ``application.sla_sweep.sweep`` decides, so the decision
can be tested with an injected clock. One scheduler runs per deployment (in the
projector process); a second one racing it records nothing twice (each timer's
aggregate refuses a repeat).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from application.follow_up import FollowUpPolicy, follow_up
from application.sla_sweep import sweep
from application.system_texts import SystemTexts

log = logging.getLogger("atende.scheduler")

JOB_ID = "sla-sweep"
# Re-check at least this often: a safety net for a due time the view learnt of while
# the wake-up was lost (e.g. the projector restarted a follower).
MAX_SLEEP = timedelta(seconds=60)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SlaScheduler:
    """Runs the breach sweep when the next timer comes due."""

    def __init__(self, app: Any, view: Any, clock: Callable[[], datetime] = utc_now):
        self.app, self.view, self.clock = app, view, clock
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._lock = threading.Lock()
        self._armed_for: datetime | None = None
        self._stopping = False

    def start(self) -> None:
        self.scheduler.start()
        self.arm(self.clock())

    def shutdown(self) -> None:
        # APScheduler's shutdown holds its job stores' lock while it waits for running
        # jobs; a sweep finishing meanwhile re-arms (add_job), which needs that lock: each
        # waited for the other forever. So re-arming stops first - after any arm already
        # under way, which the lock lets finish.
        with self._lock:
            self._stopping = True
        self.scheduler.shutdown(wait=True)

    def arm(self, when: datetime | None) -> None:
        """Run the sweep at ``when``, or at the latest after MAX_SLEEP."""
        latest = self.clock() + MAX_SLEEP
        when = latest if when is None else min(when, latest)
        with self._lock:
            if self._stopping:
                return
            self._armed_for = when
            self.scheduler.add_job(
                self._run, "date", run_date=when, id=JOB_ID, replace_existing=True,
                misfire_grace_time=None, coalesce=True,
            )  # fmt: skip

    def wake_if_earlier(self, when: datetime | None) -> None:
        """Called after the SLA view changed: re-arm if it now holds an earlier time."""
        armed = self._armed_for
        if when is not None and (armed is None or when < armed):
            self.arm(when)

    def _run(self) -> None:
        try:
            result = sweep(self.app, self.view, self.clock())
        except Exception:
            log.exception("SLA sweep failed; trying again shortly")
            self.arm(self.clock() + timedelta(seconds=5))
            return
        if result.recorded:
            log.info("SLA sweep recorded %d warnings/breaches", len(result.recorded))
        self.arm(result.next_due)


FOLLOW_UP_JOB_ID = "follow-up"


class FollowUpScheduler:
    """Runs the follow-up sweep (auto-close, reminders, auto-resolve) every interval:
    its deadlines are days long, so a minute's delay is of no consequence."""

    def __init__(
        self,
        app: Any,
        view: Any,
        policy: FollowUpPolicy,
        interval: timedelta,
        clock: Callable[[], datetime] = utc_now,
        texts: SystemTexts | None = None,  # the reasons' wording, per language
    ):
        self.app, self.view, self.policy, self.clock = app, view, policy, clock
        self.texts = texts
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.scheduler.add_job(
            self._run, "interval", seconds=interval.total_seconds(), id=FOLLOW_UP_JOB_ID,
            next_run_time=self.clock(), coalesce=True, max_instances=1,
        )  # fmt: skip

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=True)

    def _run(self) -> None:
        try:
            result = follow_up(self.app, self.view, self.clock(), self.policy, self.texts)
        except Exception:
            log.exception("follow-up sweep failed; trying again at the next interval")
            return
        if result.count:
            log.info(
                "follow-up: %d resolved, %d reminded, %d closed",
                len(result.resolved), len(result.reminded), len(result.closed),
            )  # fmt: skip
