"""Views that cannot apply an event, recorded where every process can see them.

The projector retries a failing view forever (the cause may pass: a database restart, a
migration racing a deploy), so a failure that does not pass would otherwise show only as
a traceback in its log. Each failing view gets one row here (the position it is stuck at,
the error's type, when it was first and last seen, how many attempts failed), which
``atende projections status``, ``/v1/health`` and ``/metrics`` read. The row goes once the
view gets past that position. Only the error's type is kept: a database's message can
quote the row it refused, and rows hold personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infrastructure.sql import SqlDatabase

TABLE = "view_failures"


@dataclass(frozen=True)
class ViewFailure:
    """A view stuck at ``position`` (None when what failed was not applying an event:
    reading the log, the router's round)."""

    view: str
    position: int | None
    error: str
    first_seen: str
    last_seen: str
    attempts: int


class ViewFailures:
    """The failures table: one row per failing view."""

    def __init__(self, db: SqlDatabase):
        self.db = db
        self.t = db.table(TABLE)

    def create_table(self) -> None:
        self.db.create_tables(
            [
                f"CREATE TABLE IF NOT EXISTS {self.t} (view TEXT PRIMARY KEY, position BIGINT, "
                "error TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, "
                "attempts BIGINT NOT NULL)"
            ]
        )

    def record(self, view: str, position: int | None, error: BaseException) -> None:
        """One more failed attempt: the first makes the row, later ones update it."""
        now = datetime.now(UTC).isoformat()
        self.db.run(
            f"INSERT INTO {self.t} (view, position, error, first_seen, last_seen, attempts) "
            "VALUES (:view, :position, :error, :now, :now, 1) ON CONFLICT (view) DO UPDATE "
            "SET position = excluded.position, error = excluded.error, "
            f"last_seen = excluded.last_seen, attempts = {self.t}.attempts + 1",
            {"view": view, "position": position, "error": error_type(error), "now": now},
        )

    def clear(self, view: str) -> None:
        self.db.run(f"DELETE FROM {self.t} WHERE view = :view", {"view": view})

    def all(self) -> dict[str, ViewFailure]:
        with self.db.reading() as cursor:
            self.db.execute(
                cursor,
                f"SELECT view, position, error, first_seen, last_seen, attempts FROM {self.t}",
            )
            return {row[0]: ViewFailure(*row) for row in self.db.fetch_values(cursor)}


def error_type(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def as_document(failure: ViewFailure) -> dict[str, Any]:
    return {
        "position": failure.position,
        "error": failure.error,
        "first_seen": failure.first_seen,
        "last_seen": failure.last_seen,
        "attempts": failure.attempts,
    }
