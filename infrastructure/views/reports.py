"""The reports view in SQL, on SQLite and PostgreSQL: facts per ticket and survey, and
the counters and duration histograms the reports add up (see projections.reports)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.base import (
    PostgresView,
    SQLiteView,
    SqlViewRows,
    written_with_position,
)
from projections.reports import (
    AGENT_COUNTERS,
    SATISFACTION_COUNTERS,
    ReportChange,
    ReportsView,
    fold,
    periods_covering,
    periods_with_years,
    survey_keys,
    ticket_keys,
)

VIEW = "reports"
TICKET_FACTS = ("id", "opened_at", "assignee", "first_response_at", "first_responder", "resolver")
SURVEY_FACTS = ("id", "day", "agent", "channel", "language", "category", "rating")
# Counter tables: their key columns (the primary key, in query order) and counters.
COUNTER_TABLES = {
    "satisfaction": (("dim", "period", "value"), SATISFACTION_COUNTERS),
    "agents": (("period", "agent"), AGENT_COUNTERS),
    "durations": (("period", "agent", "metric", "bucket"), ("n",)),
}
LOAD_CHUNK = 500  # ids per IN list when loading facts


class SqlReportsRows(SqlViewRows, ReportsView):
    db: SqlDatabase

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.tables = {
            name: self.db.table(f"{VIEW}_{name}{suffix}")
            for name in ("tickets", "surveys", *COUNTER_TABLES)
        }
        self.t = self.tables["tickets"]

    def create_row_tables(self) -> None:
        t = self.tables
        ddl = [
            f"CREATE TABLE IF NOT EXISTS {t['tickets']} (id TEXT PRIMARY KEY, opened_at TEXT, "
            "assignee TEXT, first_response_at TEXT, first_responder TEXT, resolver TEXT)",
            f"CREATE TABLE IF NOT EXISTS {t['surveys']} (id TEXT PRIMARY KEY, day TEXT NOT NULL, "
            "agent TEXT NOT NULL, channel TEXT NOT NULL, language TEXT NOT NULL, "
            "category TEXT NOT NULL, rating INTEGER)",
        ]
        # On SQLite, the rollups are clustered by their key (WITHOUT ROWID): a report's
        # range scan reads the counters from the key's b-tree instead of looking each row
        # up again by rowid, which halves the time of a year's durations.
        clustered = "" if self.db.is_postgres else " WITHOUT ROWID"
        for name, (keys, counters) in COUNTER_TABLES.items():
            columns = ", ".join(
                [f"{k} TEXT NOT NULL" for k in keys] + [f"{c} BIGINT NOT NULL" for c in counters]
            )
            ddl.append(
                f"CREATE TABLE IF NOT EXISTS {t[name]} ({columns}, "
                f"PRIMARY KEY ({', '.join(keys)})){clustered}"
            )
        self.db.create_tables(ddl)

    # Writing

    def apply(self, changes: Sequence[ReportChange], tracking: Tracking) -> None:
        # On PostgreSQL: three round trips (the position and the ticket facts' read, the
        # survey facts' read, the writes and COMMIT) where there were six.
        with written_with_position(self, tracking) as batch:
            with self.db.side_cursor(batch) as reader:
                tickets = self._load(reader, "tickets", ticket_keys(changes))
                surveys = self._load(reader, "surveys", survey_keys(changes))
            folded = fold(changes, tickets, surveys)
            self._upsert_facts(batch, "tickets", TICKET_FACTS, folded.tickets.values())
            self._upsert_facts(batch, "surveys", SURVEY_FACTS, folded.surveys.values())
            for table, params in _increments(folded.counters).items():
                keys, counters = COUNTER_TABLES[table]
                self.db.executemany(
                    batch, _increment_sql(self.tables[table], keys, counters), params
                )

    def _load(self, cursor: Any, table: str, keys: set[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), LOAD_CHUNK):
            chunk = ordered[start : start + LOAD_CHUNK]
            names = [f"k{i}" for i in range(len(chunk))]
            placeholders = ", ".join(f":{n}" for n in names)
            self.db.execute(
                cursor,
                f"SELECT * FROM {self.tables[table]} WHERE id IN ({placeholders})",
                dict(zip(names, chunk, strict=True)),
            )
            found.update({row["id"]: dict(row) for row in cursor.fetchall()})
        return found

    def _upsert_facts(self, cursor: Any, table: str, columns: tuple[str, ...], facts: Any) -> None:
        params = [{c: fact[c] for c in columns} for fact in facts]
        if params:
            self.db.executemany(cursor, _upsert_fact_sql(self.tables[table], columns), params)

    # Reading

    def satisfaction(self, group_by: str, start: date, end: date) -> list[dict[str, Any]]:
        days_only = group_by == "day"
        periods = (
            periods_covering(start, end, True) if days_only else periods_with_years(start, end)
        )
        where, params = _in("period", periods)
        statement = (
            "SELECT value, SUM(sent) AS sent, SUM(responses) AS responses, "
            "SUM(rating_sum) AS rating_sum, SUM(satisfied) AS satisfied "
            f"FROM {self.tables['satisfaction']} WHERE dim = :dim AND {where} "
            "GROUP BY value ORDER BY value"
        )
        rows = self._select(statement, {**params, "dim": group_by})
        # PostgreSQL sums BIGINTs as NUMERIC.
        return [
            {"value": r["value"], **{c: int(r[c]) for c in SATISFACTION_COUNTERS}} for r in rows
        ]

    def agent_counters(
        self, start: date, end: date, agent: str | None = None
    ) -> dict[str, dict[str, int]]:
        where, params = _by_agent(periods_with_years(start, end), agent)
        sums = ", ".join(f"SUM({c}) AS {c}" for c in AGENT_COUNTERS)
        statement = (
            f"SELECT agent, {sums} FROM {self.tables['agents']} WHERE {where} GROUP BY agent"
        )
        return {
            row["agent"]: {c: int(row[c]) for c in AGENT_COUNTERS}
            for row in self._select(statement, params)
        }

    def agent_durations(
        self, start: date, end: date, agent: str | None = None
    ) -> dict[str, dict[str, list[tuple[int, int]]]]:
        periods = periods_with_years(start, end)
        where, params = _by_agent(periods, agent)
        # A whole year is one period, whose rows are each one (agent, metric, bucket)
        # already: read them as they are. Summing them anyway (GROUP BY) doubled the
        # read on SQLite and, with PostgreSQL's NUMERIC sums, the time turning them into
        # ints (issue 19: the all-agents report over a year, p99 under 100 ms).
        counts = "n" if len(periods) == 1 else "CAST(SUM(n) AS BIGINT)"
        grouped = "" if len(periods) == 1 else " GROUP BY agent, metric, bucket"
        statement = (
            f"SELECT agent, metric, CAST(bucket AS BIGINT), {counts} "
            f"FROM {self.tables['durations']} "
            f"WHERE {where}{grouped}"
        )
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, params)
            found = self.db.fetch_values(cursor)
        by_metric: defaultdict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for agent_id, metric, bucket, n in found:
            by_metric[agent_id, metric].append((bucket, n))
        histograms: dict[str, dict[str, list[tuple[int, int]]]] = {}
        for (agent_id, metric), histogram in by_metric.items():
            histogram.sort()  # buckets are text in the table, in text order
            histograms.setdefault(agent_id, {})[metric] = histogram
        return histograms

    def agent_satisfaction(
        self, start: date, end: date, agent: str | None = None
    ) -> dict[str, dict[str, int]]:
        rows = self.satisfaction("agent", start, end)
        return {
            r["value"]: {c: int(r[c]) for c in SATISFACTION_COUNTERS}
            for r in rows
            if agent is None or r["value"] == agent
        }

    def _select(self, statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, params)
            return [dict(row) for row in cursor.fetchall()]

    # Rebuild and comparison

    def owned_tables(self) -> list[str]:
        return list(self.tables.values())

    def index_names(self) -> list[str]:
        return []

    def index_ddl(self) -> list[str]:
        return []

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        found = {}
        with self.db.transaction(commit=False) as cursor:
            for name, table in self.tables.items():
                keys = COUNTER_TABLES[name][0] if name in COUNTER_TABLES else ("id",)
                self.db.execute(cursor, f"SELECT * FROM {table} ORDER BY {', '.join(keys)}")
                found[name] = [dict(row) for row in cursor.fetchall()]
        return found


def _increments(counters: Any) -> dict[str, list[dict[str, Any]]]:
    """The batch's increments (already summed per key) as parameters, by table, with
    each month's increments added to its year's row too."""
    by_table: dict[str, list[dict[str, Any]]] = {}
    for (table, key), deltas in with_years(counters).items():
        keys, columns = COUNTER_TABLES[table]
        params: dict[str, Any] = dict(zip(keys, key, strict=True))
        params.update({c: deltas.get(c, 0) for c in columns})
        by_table.setdefault(table, []).append(params)
    return by_table


def with_years(counters: Any) -> dict[tuple[str, tuple[str, ...]], dict[str, int]]:
    """The fold counts per day and month; year rows are the sums of month rows."""
    out = {k: dict(v) for k, v in counters.items()}
    for (table, key), deltas in counters.items():
        period_at = COUNTER_TABLES[table][0].index("period")
        period = key[period_at]
        if len(period) != len("YYYY-MM"):
            continue
        year_key = (table, (*key[:period_at], period[:4], *key[period_at + 1 :]))
        row = out.setdefault(year_key, {})
        for column, delta in deltas.items():
            row[column] = row.get(column, 0) + delta
    return out


def _in(column: str, values: list[str]) -> tuple[str, dict[str, Any]]:
    names = [f"{column}{i}" for i in range(len(values))]
    clause = f"{column} IN ({', '.join(':' + n for n in names)})"
    return clause, dict(zip(names, values, strict=True))


def _by_agent(periods: list[str], agent: str | None) -> tuple[str, dict[str, Any]]:
    where, params = _in("period", periods)
    if agent is not None:
        where += " AND agent = :agent"
        params["agent"] = agent
    return where, params


@lru_cache(maxsize=16)
def _upsert_fact_sql(table: str, columns: tuple[str, ...]) -> str:
    values = ", ".join(f":{c}" for c in columns)
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) "
        f"ON CONFLICT (id) DO UPDATE SET {sets}"
    )


@lru_cache(maxsize=16)
def _increment_sql(table: str, keys: tuple[str, ...], counters: tuple[str, ...]) -> str:
    columns = (*keys, *counters)
    values = ", ".join(f":{c}" for c in columns)
    sets = ", ".join(f"{c} = cur.{c} + excluded.{c}" for c in counters)
    return (
        f"INSERT INTO {table} AS cur ({', '.join(columns)}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )


class SQLiteReportsView(SQLiteView, SqlReportsRows):
    view_name = VIEW


class PostgresReportsView(PostgresView, SqlReportsRows):
    view_name = VIEW
