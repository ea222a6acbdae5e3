"""The projector's heartbeat, where every process can see it.

A projector that died (kill -9, an OOM kill, a host gone) leaves views that merely stop
moving: with no new events their lag stays 0 and health would say "ok" while the SLA
clock, follow-ups and anchors have stopped. So each running projector writes a beat
every few seconds (one row per host and pid), and ``/v1/health`` says "degraded" when
the newest beat is older than ATENDE_HEALTH_MAX_HEARTBEAT_AGE, or there is none.
A projector that stops cleanly removes its row: nothing is running, and health says so.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infrastructure.sql import SqlDatabase

TABLE = "projector_heartbeats"
BEAT_SECONDS = 5
# Rows of projectors that died are kept this long (health shows the newest), then go.
FORGET_AFTER = timedelta(days=1)

log = logging.getLogger("atende.projector")


@dataclass(frozen=True)
class Heartbeat:
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime

    def age(self, now: datetime) -> float:
        return max(0.0, (now - self.beat_at).total_seconds())


class Heartbeats:
    def __init__(self, db: SqlDatabase):
        self.db = db
        self.t = db.table(TABLE)

    def create_table(self) -> None:
        self.db.create_tables(
            [
                f"CREATE TABLE IF NOT EXISTS {self.t} (host TEXT NOT NULL, pid BIGINT NOT NULL, "
                "started_at TEXT NOT NULL, beat_at TEXT NOT NULL, PRIMARY KEY (host, pid))"
            ]
        )

    def beat(self, host: str, pid: int, started_at: datetime, now: datetime) -> None:
        self.db.run(
            f"INSERT INTO {self.t} (host, pid, started_at, beat_at) VALUES "
            "(:host, :pid, :started_at, :now) ON CONFLICT (host, pid) DO UPDATE "
            "SET beat_at = excluded.beat_at",
            {"host": host, "pid": pid, "started_at": started_at.isoformat(),
             "now": now.isoformat()},
        )  # fmt: skip
        self.db.run(
            f"DELETE FROM {self.t} WHERE beat_at < :before",
            {"before": (now - FORGET_AFTER).isoformat()},
        )

    def stopped(self, host: str, pid: int) -> None:
        self.db.run(f"DELETE FROM {self.t} WHERE host = :host AND pid = :pid",
                    {"host": host, "pid": pid})  # fmt: skip

    def newest(self) -> Heartbeat | None:
        row = self.db.fetchone(
            f"SELECT host, pid, started_at, beat_at FROM {self.t} ORDER BY beat_at DESC LIMIT 1"
        )
        if row is None:
            return None
        return Heartbeat(
            row["host"],
            row["pid"],
            datetime.fromisoformat(row["started_at"]),
            datetime.fromisoformat(row["beat_at"]),
        )


class ProjectorHeartbeat:
    """This process's beat: once at start, then every BEAT_SECONDS on a scheduler."""

    def __init__(self, heartbeats: Heartbeats):
        self.heartbeats = heartbeats
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started_at = datetime.now(UTC)

    def beat(self) -> None:
        try:
            self.heartbeats.beat(self.host, self.pid, self.started_at, datetime.now(UTC))
        except Exception:  # the next beat tries again; health shows the gap meanwhile
            log.exception("projector heartbeat failed")

    def start(self, scheduler: Any) -> None:
        self.beat()
        scheduler.add_job(
            self.beat, "interval", seconds=BEAT_SECONDS,
            id="projector-heartbeat", coalesce=True, max_instances=1,
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self.heartbeats.stopped(self.host, self.pid)
        except Exception:
            log.exception("could not remove the projector's heartbeat")


PROBE_TABLE = "storage_probe"


class WriteProbe:
    """Whether the database takes a write now: one row rewritten and committed (a full
    disk or a read-only file system shows only when something is written), at most every
    ``every`` seconds per process, since load balancers probe health every second."""

    def __init__(self, db: SqlDatabase, every: float = 5.0):
        self.db = db
        self.t = db.table(PROBE_TABLE)
        self.every = every
        self._checked_at: float | None = None
        self._error: Exception | None = None

    def create_table(self) -> None:
        self.db.create_tables(
            [f"CREATE TABLE IF NOT EXISTS {self.t} (id INTEGER PRIMARY KEY, at TEXT NOT NULL)"]
        )

    def failure(self, monotonic_now: float) -> Exception | None:
        """The error of the last write tried (None: it was stored)."""
        if self._checked_at is None or monotonic_now - self._checked_at >= self.every:
            self._checked_at = monotonic_now
            try:
                self.db.run(
                    f"INSERT INTO {self.t} (id, at) VALUES (1, :at) "
                    "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                    {"at": datetime.now(UTC).isoformat()},
                )
                self._error = None
            except Exception as error:  # noqa: BLE001 - health reports any failure to write
                self._error = error
        return self._error
