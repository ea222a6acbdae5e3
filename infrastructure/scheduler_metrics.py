"""Counts the projector's scheduler runs for /metrics.

The schedulers run in the projector process, not in a gunicorn worker, and nothing in
the database records a run, so the projector counts them itself. Started by gunicorn,
it inherits PROMETHEUS_MULTIPROC_DIR and its counts land beside the workers', which
/metrics sums; a projector run on its own (``atende project``) counts for nobody unless
it is given the API's directory on the same host.
"""

from __future__ import annotations

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.base import BaseScheduler
from prometheus_client import Counter

SCHEDULER_RUNS = Counter(
    "atende_scheduler_runs",
    "Scheduler job runs in the projector, by job id (sla-sweep, follow-up...) and outcome "
    "(ran, failed, missed). A sweep that catches its own failure logs it and counts as ran.",
    ["job", "outcome"],
)
_OUTCOMES = {EVENT_JOB_EXECUTED: "ran", EVENT_JOB_ERROR: "failed", EVENT_JOB_MISSED: "missed"}


def count_runs(scheduler: BaseScheduler) -> None:
    def count(event: JobEvent) -> None:
        SCHEDULER_RUNS.labels(event.job_id, _OUTCOMES[event.code]).inc()

    scheduler.add_listener(count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
