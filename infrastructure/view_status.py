"""Each view's position, its lag behind the log's head, and its failure: what
``atende projections status``, ``/v1/health`` and ``/metrics`` show.

It needs the log's head, the views and the failures table, and nothing else of a wired
Atende, so the HTTP resources that show it are handed this rather than the container."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import TrackingRecorder

from application.ports import LogHead
from infrastructure.view_failures import ViewFailures, as_document


class ViewStatus:
    def __init__(self, log: LogHead, views: Mapping[str, TrackingRecorder], failures: ViewFailures):
        self.log = log
        self.views = views
        self.failures = failures

    def rows(self) -> list[dict[str, Any]]:
        """Each view's position and lag, and its failure (None when it is not failing)."""
        head = self.log.head_position()
        failures = self.failures.all()
        rows = []
        for name, view in self.views.items():
            position = view.max_tracking_id(self.log.name) or 0
            failure = failures.get(name)
            rows.append(
                {
                    "view": name,
                    "position": position,
                    "head": head,
                    "lag": head - position,
                    "failing": as_document(failure) if failure else None,
                }
            )
        return rows
