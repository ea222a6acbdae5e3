"""Database reachability and the projector's progress, without authentication (for load
balancers and operators).

A lagging projector, or one whose heartbeat is missing or older than
ATENDE_HEALTH_MAX_HEARTBEAT_AGE (it died: views, the SLA clock, follow-ups and anchors
have stopped; infrastructure/heartbeat.py), makes the answer "degraded", and a view that
cannot apply an event (recorded by the projector, see infrastructure.view_failures)
"failing", naming it; both
are still 200: the API itself works (commands, reads from the log), only views are
stale, so a load balancer should keep sending traffic. An unreachable database is 503 +
Retry-After.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon

from infrastructure.heartbeat import Heartbeats, WriteProbe
from infrastructure.sql import SqlDatabase
from infrastructure.storage_errors import cannot_write
from infrastructure.view_status import ViewStatus
from interface.http.openapi.operation import PUBLIC, Operation, Operations
from interface.http.schemas.health import HealthOut

log = logging.getLogger("atende.health")

# The projector's state -> the answer's: a view that cannot apply an event is "failing"
# (it will not catch up by itself); one merely behind is "degraded".
OVERALL = {"ok": "ok", "behind": "degraded", "failing": "failing"}


class Health:
    public = True
    unlimited = True  # probes are never rate limited

    def __init__(
        self,
        *,
        database: SqlDatabase,
        write_probe: WriteProbe,
        heartbeats: Heartbeats,
        view_status: ViewStatus,
        max_lag: int,
        max_heartbeat_age: timedelta,
    ):
        self.database = database
        self.write_probe = write_probe
        self.heartbeats = heartbeats
        self.view_status = view_status
        self.max_lag = max_lag
        self.max_heartbeat_age = max_heartbeat_age.total_seconds()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self.database.fetchone("SELECT 1 AS ok")
            projector = self._projector()
        except Exception:  # any failure means "not healthy", and it is logged
            log.warning("health check: database unreachable", exc_info=True)
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "2")
            resp.media = {"status": "unavailable", "database": "unreachable"}
            return
        refused = self.write_probe.failure(time.monotonic())
        if refused is not None:
            reason = cannot_write(refused) or "writes fail"
            log.error("health check: the database refuses writes: %s", reason)
            resp.status = falcon.HTTP_503
            resp.media = {
                "status": "unavailable", "database": "cannot-write", "reason": reason,
                "projector": projector,
            }  # fmt: skip
            if cannot_write(refused) is None:  # transient: a lock, a restart
                resp.set_header("Retry-After", "2")
            return
        overall = OVERALL[projector["status"]]
        resp.media = {"status": overall, "database": "ok", "projector": projector}

    def _projector(self) -> dict[str, Any]:
        rows = self.view_status.rows()
        lag = {row["view"]: row["lag"] for row in rows}
        behind = sorted(view for view, events in lag.items() if events > self.max_lag)
        failing = {row["view"]: row["failing"] for row in rows if row["failing"]}
        heartbeat = self._heartbeat()
        stopped = heartbeat is None or heartbeat["age_seconds"] > self.max_heartbeat_age
        return {
            "status": "failing" if failing else "behind" if behind or stopped else "ok",
            "heartbeat": heartbeat,
            "max_heartbeat_age_seconds": self.max_heartbeat_age,
            "head": rows[0]["head"] if rows else 0,
            "lag": lag,
            "max_lag": self.max_lag,
            "behind": behind,
            "failing": failing,
        }

    def _heartbeat(self) -> dict[str, Any] | None:
        newest = self.heartbeats.newest()
        if newest is None:
            return None
        return {
            "age_seconds": round(newest.age(datetime.now(UTC)), 1),
            "host": newest.host,
            "pid": newest.pid,
            "started_at": newest.started_at.isoformat(),
        }


OPERATIONS: Operations = {
    ("/v1/health", "get"): Operation(
        "Database reachability and projector lag (503 when the database is unreachable)",
        "operations",
        PUBLIC,
        HealthOut,
        statuses=(200, 503),  # the same body, when the database cannot be reached
        rate_limited=False,
    ),
}
