"""The routing view in SQL, on SQLite and PostgreSQL: agents and active tickets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from domain.routing import AgentState, WaitingTicket, primary_subtag
from infrastructure.sql import SqlDatabase
from infrastructure.views.base import (
    PostgresView,
    SQLiteView,
    SqlViewRows,
    written_with_position,
)
from projections.routing import AGENTS, TICKETS, RoutingChange, RoutingView

TABLE = "routing"
JSON_COLUMNS = ("languages", "skills")
# Booleans are kept as 0/1 integers, so the same SQL runs on both databases.
FLAG_COLUMNS = ("generalist", "active")


def _ddl(agents: str, tickets: str, prefix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {agents} (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "email TEXT NOT NULL, languages TEXT NOT NULL, skills TEXT NOT NULL, "
        "generalist INTEGER NOT NULL, capacity INTEGER NOT NULL, availability TEXT NOT NULL, "
        "active INTEGER NOT NULL, last_assigned BIGINT NOT NULL, registered_at BIGINT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {tickets} (id TEXT PRIMARY KEY, number BIGINT NOT NULL, "
        "language TEXT, language_primary TEXT, category TEXT, priority_rank INTEGER NOT NULL, "
        "assignee TEXT, active INTEGER NOT NULL)",
        *_index_ddl(tickets, prefix),
    ]


def _index_ddl(tickets: str, prefix: str) -> list[str]:
    return [
        # The router's two questions: who waits (most urgent first), and each agent's load.
        f"CREATE INDEX IF NOT EXISTS {prefix}_waiting ON {tickets} "
        "(language_primary, priority_rank, number) WHERE assignee IS NULL AND active = 1",
        f"CREATE INDEX IF NOT EXISTS {prefix}_load ON {tickets} (assignee) "
        "WHERE assignee IS NOT NULL AND active = 1",
    ]


class SqlRoutingRows(SqlViewRows, RoutingView):
    db: SqlDatabase

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.agents_table = self.db.table(f"{TABLE}_agents{suffix}")
        self.t = self.tickets_table = self.db.table(f"{TABLE}_tickets{suffix}")
        self.index_prefix = f"{TABLE}{suffix}"
        self.tables = {AGENTS: self.agents_table, TICKETS: self.tickets_table}

    def create_row_tables(self) -> None:
        self.db.create_tables(_ddl(self.agents_table, self.tickets_table, self.index_prefix))

    def apply(self, changes: Sequence[RoutingChange], tracking: Tracking) -> None:
        with written_with_position(self, tracking) as batch:
            for statement, params in _consecutive(self._statement(c) for c in changes):
                self.db.executemany(batch, statement, params)

    def _statement(self, change: RoutingChange) -> tuple[str, dict[str, Any]]:
        table = self.tables[change.table]
        if change.fields is None:
            return f"DELETE FROM {table} WHERE id = :id", {"id": change.key}
        params = {k: _stored(k, v) for k, v in change.fields.items()}
        params["id"] = change.key
        columns = tuple(sorted(change.fields))
        return _write_sql(table, columns, change.insert), params

    def agents(self) -> list[AgentState]:
        return [
            AgentState(
                agent_id=row["id"],
                languages=tuple(row["languages"]),
                skills=tuple(row["skills"]),
                generalist=row["generalist"],
                capacity=row["capacity"],
                load=row["load"],
                availability=row["availability"],
                active=row["active"],
                last_assigned=row["last_assigned"],
            )
            for row in self._agent_rows("", {})
        ]

    def waiting(self, languages: Sequence[str] | None) -> list[WaitingTicket]:
        clauses, params = ["assignee IS NULL", "active = 1"], {}
        if languages is not None:
            names = [f":l{i}" for i in range(len(languages))]
            matching = f"language_primary IN ({', '.join(names)}) OR " if names else ""
            clauses.append(f"({matching}language_primary IS NULL)")
            params = {f"l{i}": language for i, language in enumerate(languages)}
        rows = self._select(
            f"SELECT id, language, category FROM {self.tickets_table} "
            f"WHERE {' AND '.join(clauses)} ORDER BY priority_rank, number",
            params,
        )
        return [WaitingTicket(r["id"], r["language"], r["category"]) for r in rows]

    def held_by(self, agent_id: str) -> list[str]:
        rows = self._select(
            f"SELECT id FROM {self.tickets_table} WHERE assignee = :agent AND active = 1 "
            "ORDER BY number",
            {"agent": agent_id},
        )
        return [row["id"] for row in rows]

    def directory(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        clauses, params = [], {}
        if "availability" in filters:
            clauses.append("a.availability = :availability")
            params["availability"] = filters["availability"]
        if "active" in filters:
            clauses.append("a.active = :active")
            params["active"] = int(filters["active"])
        rows = self._agent_rows(" AND ".join(clauses), params)
        language, skill = filters.get("language"), filters.get("skill")
        if language:
            wanted = primary_subtag(language)
            rows = [r for r in rows if wanted in {primary_subtag(x) for x in r["languages"]}]
        if skill:
            rows = [r for r in rows if skill.strip().lower() in {s.lower() for s in r["skills"]}]
        return rows

    def _agent_rows(self, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._select(
            f"SELECT a.*, COALESCE(l.load, 0) AS load FROM {self.agents_table} a "
            f"LEFT JOIN (SELECT assignee, COUNT(*) AS load FROM {self.tickets_table} "
            "WHERE assignee IS NOT NULL AND active = 1 GROUP BY assignee) l "
            f"ON l.assignee = a.id{' WHERE ' + where if where else ''} "
            "ORDER BY a.registered_at",
            params,
        )

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        return {
            AGENTS: self._select(f"SELECT * FROM {self.agents_table} ORDER BY id"),
            TICKETS: self._select(f"SELECT * FROM {self.tickets_table} ORDER BY id"),
        }

    def _select(self, statement: str, params: dict[str, Any] | None = None) -> list[dict]:
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, params)
            return [_loaded(dict(row)) for row in cursor.fetchall()]

    def owned_tables(self) -> list[str]:
        return [self.agents_table, self.tickets_table]

    def index_names(self) -> list[str]:
        return [f"{self.index_prefix}_waiting", f"{self.index_prefix}_load"]

    def index_ddl(self) -> list[str]:
        return _index_ddl(self.tickets_table, self.index_prefix)


@lru_cache(maxsize=256)
def _write_sql(table: str, columns: tuple[str, ...], insert: bool) -> str:
    if insert:
        names = ("id", *columns)
        return (
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + c for c in names)})"
        )
    return f"UPDATE {table} SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE id = :id"


def _consecutive(
    statements: Any,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Runs of the same statement text, each run one executemany; order is kept, since a
    ticket's insert must come before its updates."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for statement, params in statements:
        if runs and runs[-1][0] == statement:
            runs[-1][1].append(params)
        else:
            runs.append((statement, [params]))
    return runs


def _stored(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS:
        return json.dumps(value)
    if column in FLAG_COLUMNS:
        return int(bool(value))
    return value


def _loaded(row: dict[str, Any]) -> dict[str, Any]:
    for column in JSON_COLUMNS:
        if column in row:
            row[column] = json.loads(row[column])
    for column in FLAG_COLUMNS:
        if column in row:
            row[column] = bool(row[column])
    return row


class SQLiteRoutingView(SQLiteView, SqlRoutingRows):
    view_name = TABLE


class PostgresRoutingView(PostgresView, SqlRoutingRows):
    view_name = TABLE
