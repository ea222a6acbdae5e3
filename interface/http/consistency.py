"""Read-your-writes for views: ``after_position=N`` waits, bounded, until a view has
processed position N (the ``position`` a command returned).

A wait needs only the log's head and the name views track it under (a ``LogHead``: the
ticket application), and the view itself."""

from __future__ import annotations

import time
from typing import Any

import falcon
from eventsourcing.persistence import TrackingRecorder

from application.ports import LogHead
from interface.http.errors import Problem, validation_problem

WAIT_SECONDS = 5.0
# The first look again comes soon (a view usually applies a write within milliseconds),
# then less and less often. eventsourcing's ``TrackingRecorder.wait`` sleeps 100 ms before
# its second look, which made every read-your-writes read take 110 ms.
FIRST_RETRY_SECONDS = 0.002
LONGEST_RETRY_SECONDS = 0.1


def wait_for_position(log: LogHead, view: TrackingRecorder, position: int) -> None:
    if position <= 0:
        # Before the first event: reached by every view, even one that has processed
        # nothing yet (an empty log's views have no tracking record to compare with).
        return
    head = log.head_position()
    if position > head:
        raise validation_problem(
            {"after_position": [f"Beyond the newest event ({head}); nothing to wait for."]}
        )
    if not _reaches(view, log.name, position, WAIT_SECONDS):
        raise Problem(
            falcon.HTTP_503,
            "view-behind",
            "View is behind",
            f"The view has not reached position {position} within {WAIT_SECONDS:.0f} s.",
            headers={"Retry-After": "1"},
        )


def _reaches(view: TrackingRecorder, application: str, position: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pause = FIRST_RETRY_SECONDS
    while not view.has_tracking_id(application, position):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, LONGEST_RETRY_SECONDS)
    return True


def wait_if_asked(log: LogHead, view: TrackingRecorder, query: dict[str, Any]) -> None:
    """A loaded query with ``after_position`` waits for the view to reach it."""
    if "after_position" in query:
        wait_for_position(log, view, query["after_position"])
