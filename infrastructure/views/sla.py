"""The SLA view in SQL, on SQLite and PostgreSQL: one row per ticket timer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.base import PostgresView, SQLiteView, SqlViewRows
from projections.sla import INSTANTS, DueThreshold, SlaView, TimerRow
from projections.timestamps import timestamp

TABLE = "sla_timers"
KEY = ("ticket_id", "metric", "cycle")
COLUMNS = (
    *KEY, "policy", "calendar", "target", "state", "elapsed", "paused_seconds", "met",
    *INSTANTS, "breach_epoch", "warn_epoch",
)  # fmt: skip
OUTCOMES = ("met", "met_late", "breached", "in_progress", "stopped")


def _ddl(t: str, names: dict[str, str]) -> list[str]:
    instants = ", ".join(f"{name} TEXT" for name in INSTANTS)
    return [
        f"CREATE TABLE IF NOT EXISTS {t} (ticket_id TEXT NOT NULL, metric TEXT NOT NULL, "
        "cycle INTEGER NOT NULL, policy TEXT NOT NULL, calendar TEXT NOT NULL, "
        "target BIGINT NOT NULL, state TEXT NOT NULL, elapsed BIGINT NOT NULL, "
        f"paused_seconds BIGINT NOT NULL, met BOOLEAN, {instants}, "
        "breach_epoch DOUBLE PRECISION, warn_epoch DOUBLE PRECISION, "
        "PRIMARY KEY (ticket_id, metric, cycle))",
        # The sweep reads only timers whose breach or warning is still to be recorded.
        f"CREATE INDEX IF NOT EXISTS {names['breach']} ON {t} (breach_epoch) "
        "WHERE breach_epoch IS NOT NULL",
        f"CREATE INDEX IF NOT EXISTS {names['warn']} ON {t} (warn_epoch) "
        "WHERE warn_epoch IS NOT NULL",
        f"CREATE INDEX IF NOT EXISTS {names['breached']} ON {t} (breached_at) "
        "WHERE breached_at IS NOT NULL",
        f"CREATE INDEX IF NOT EXISTS {names['started']} ON {t} (started_at)",
    ]


class SqlSlaRows(SqlViewRows, SlaView):
    db: SqlDatabase

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.t = self.db.table(TABLE + suffix)
        kinds = ("breach", "warn", "breached", "started")
        self.names = {kind: f"{TABLE}{suffix}_{kind}" for kind in kinds}
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in KEY)
        self.upsert = (
            f"INSERT INTO {self.t} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(':' + c for c in COLUMNS)}) "
            f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
        )

    def create_row_tables(self) -> None:
        self.db.create_tables(_ddl(self.t, self.names))

    def statements(self, changes: Sequence[TimerRow]) -> list[tuple[str, list[dict[str, Any]]]]:
        """One upsert per timer, of the last row the batch left it in."""
        last = {tuple(c.fields[k] for k in KEY): c.fields for c in changes}
        return [(self.upsert, list(last.values()))] if last else []

    def due(self, now: datetime) -> list[DueThreshold]:
        epoch = now.timestamp()
        found = []
        for threshold, column in (("warning", "warn_epoch"), ("breach", "breach_epoch")):
            rows = self._select(
                f"SELECT ticket_id, metric, cycle FROM {self.t} "
                f"WHERE {column} IS NOT NULL AND {column} <= :now ORDER BY {column}",
                {"now": epoch},
            )
            found += [
                DueThreshold(r["ticket_id"], r["metric"], r["cycle"], threshold) for r in rows
            ]
        return found

    def next_due(self) -> datetime | None:
        rows = self._select(
            f"SELECT MIN(breach_epoch) AS b, (SELECT MIN(warn_epoch) FROM {self.t}) AS w "
            f"FROM {self.t}"
        )
        epochs = [e for e in (rows[0]["b"], rows[0]["w"]) if e is not None]
        return datetime.fromtimestamp(min(epochs), tz=UTC) if epochs else None

    def breaches(
        self, start: datetime, end: datetime, metric: str | None, limit: int, after: tuple | None
    ) -> list[dict[str, Any]]:
        clauses = ["breached_at IS NOT NULL", "breached_at >= :start", "breached_at < :end"]
        params: dict[str, Any] = {"start": timestamp(start), "end": timestamp(end), "limit": limit}
        if metric:
            clauses.append("metric = :metric")
            params["metric"] = metric
        order = ("breached_at", *KEY)
        if after is not None:
            clauses.append(f"({', '.join(order)}) > (:a0, :a1, :a2, :a3)")
            params.update({f"a{i}": value for i, value in enumerate(after)})
        return self._select(
            f"SELECT * FROM {self.t} WHERE {' AND '.join(clauses)} "
            f"ORDER BY {', '.join(order)} LIMIT :limit",
            params,
        )

    def report(self, start: datetime, end: datetime, period: str) -> list[dict[str, Any]]:
        rows = self._select(
            f"SELECT metric, policy, started_at, state, met, breached_at FROM {self.t} "
            "WHERE started_at >= :start AND started_at < :end",
            {"start": timestamp(start), "end": timestamp(end)},
        )
        counts: dict[tuple[str, str, str], Counter] = {}
        for row in rows:
            group = (row["metric"], row["policy"], period_start(row["started_at"], period))
            counts.setdefault(group, Counter())[outcome(row)] += 1
        return [
            {"metric": m, "policy": p, "period": when, "total": sum(c.values()),
             **{name: c[name] for name in OUTCOMES}}
            for (m, p, when), c in sorted(counts.items())
        ]  # fmt: skip

    def breach_counts(self) -> dict[str, int]:
        rows = self._select(
            f"SELECT metric, COUNT(*) AS n FROM {self.t} "
            "WHERE breached_at IS NOT NULL GROUP BY metric ORDER BY metric"
        )
        return {row["metric"]: row["n"] for row in rows}

    def rows(self) -> list[dict[str, Any]]:
        return self._select(f"SELECT * FROM {self.t} ORDER BY {', '.join(KEY)}")

    def _select(self, statement: str, params: dict[str, Any] | None = None) -> list[dict]:
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, statement, params)
            return [_normalised(dict(row)) for row in cursor.fetchall()]

    def owned_tables(self) -> list[str]:
        return [self.t]

    def index_names(self) -> list[str]:
        return list(self.names.values())

    def index_ddl(self) -> list[str]:
        return _ddl(self.t, self.names)[1:]


def outcome(row: dict[str, Any]) -> str:
    if row["state"] == "fulfilled":
        return "met" if row["met"] else "met_late"
    if row["breached_at"] is not None:
        return "breached"
    return "stopped" if row["state"] == "stopped" else "in_progress"


def period_start(started_at: str, period: str) -> str:
    """The UTC day, ISO week (its Monday) or month a timer started in."""
    day = datetime.fromisoformat(started_at).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day.isoformat()


def _normalised(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite keeps booleans as 0/1.
    if "met" in row and row["met"] is not None:
        row["met"] = bool(row["met"])
    return row


class SQLiteSlaView(SQLiteView, SqlSlaRows):
    view_name = "sla"


class PostgresSlaView(PostgresView, SqlSlaRows):
    view_name = "sla"
