"""What a piece of work costs the database: the statements it runs and, on PostgreSQL, the
round trips it waits for, observed on the real connections (nothing is replaced).

- SQLite: every connection Python opens is announced by the ``sqlite3.connect/handle``
  audit event; while counting, each has a trace callback that records its statements.
- PostgreSQL: every pooled connection eventsourcing opens passes through the datastore's
  ``after_connect``; while counting, libpq traces its protocol messages to a file of its own.
  A statement is a ``Query`` or an ``Execute``; a round trip, each time the client, having
  sent, waits for the server's answer (a run of frontend lines followed by backend lines),
  so a pipeline of five statements is one.

Install ``observe_connections`` before the application opens its connections.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import tempfile
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
from eventsourcing.postgres import PostgresDatastore
from psycopg import pq

_lock = threading.Lock()
_sqlite_connections: list = []  # sqlite3.Connection takes no weak references
_observing = False
_postgres_connections: weakref.WeakSet = weakref.WeakSet()
_active: list[Cost] = []
_prepared: dict[int, dict[str, str]] = {}
# ' "name" "SELECT ... "schema"."table" ..." 2 NNNN NNNN': the query keeps its own quotes.
_PARSE = re.compile(r'\s*"([^"]*)" "(.*)" \d+(?: \S+)*$')
_BIND = re.compile(r'\s*"[^"]*" "([^"]*)"')
_TRACE_FLAGS = pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
_FIRST_WORDS = re.compile(r"\s*(\w+)(?:\s+(?:INTO|FROM|OR\s+\w+\s+INTO)?\s*(\"?[\w.\"]+)?)?", re.I)


@dataclass
class Cost:
    statements: list[str] = field(default_factory=list)
    round_trips: int = 0

    @property
    def shapes(self) -> Counter[str]:
        """Statements by kind and table (``INSERT atende_events``), for a breakdown."""
        return Counter(_shape(statement) for statement in self.statements)


def _shape(statement: str) -> str:
    match = _FIRST_WORDS.match(statement)
    if not match:
        return statement[:40]
    verb, table = match.group(1).upper(), (match.group(2) or "").replace('"', "")
    return f"{verb} {table.rsplit('.', 1)[-1]}".strip() if verb in _TABLE_VERBS else verb


_TABLE_VERBS = {"INSERT", "SELECT", "UPDATE", "DELETE", "REPLACE", "LOCK"}


def _record_sqlite(statement: str) -> None:
    for cost in _active:
        cost.statements.append(statement)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "sqlite3.connect/handle" and _observing:  # announced before its __init__
        _sqlite_connections.append(args[0])


_audit_installed = False


@pytest.fixture
def observe_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every database connection opened from now on, until the test ends, can be counted."""
    global _audit_installed, _observing
    if not _audit_installed:  # audit hooks cannot be removed: one per process
        sys.addaudithook(_audit)
        _audit_installed = True
    original = PostgresDatastore.after_connect_func

    def after_connect_func(self: PostgresDatastore):
        configure = original(self)

        def after_connect(conn) -> None:
            configure(conn)
            _postgres_connections.add(conn)

        return after_connect

    monkeypatch.setattr(PostgresDatastore, "after_connect_func", after_connect_func)
    _observing = True
    yield
    _observing = False
    _sqlite_connections.clear()
    _postgres_connections.clear()


@contextmanager
def counting() -> Iterator[Cost]:
    """The database cost of the work done inside the block."""
    cost = Cost()
    with ExitStack() as files:
        traces = []
        with _lock:
            _active.append(cost)
            for connection in _sqlite_connections:
                with suppress(sqlite3.ProgrammingError):  # closed since
                    connection.set_trace_callback(_record_sqlite)
            for conn in list(_postgres_connections):
                if not conn.closed:
                    trace = files.enter_context(tempfile.TemporaryFile("w+b"))
                    conn.pgconn.trace(trace.fileno())
                    conn.pgconn.set_trace_flags(_TRACE_FLAGS)
                    traces.append((conn, trace))
        try:
            yield cost
        finally:
            with _lock:
                _active.remove(cost)
                for connection in _sqlite_connections:
                    with suppress(sqlite3.ProgrammingError):
                        connection.set_trace_callback(None)
                for conn, trace in traces:
                    conn.pgconn.untrace()  # flushes the trace
                    _read_trace(conn, trace, cost)


def _read_trace(conn: Any, trace: Any, cost: Cost) -> None:
    trace.seek(0)
    prepared = _prepared.setdefault(id(conn), {})  # psycopg prepares a query's 5th run
    unnamed, bound, previous = "", "", None
    for line in trace.read().decode("utf-8", "replace").splitlines():
        direction, _, rest = line.partition("\t")
        message, _, fields = rest.partition("\t")[2].partition("\t")
        if direction == "F":
            if message == "Query":  # ' "SELECT ..."'
                cost.statements.append(fields.strip()[1:-1])
            elif message == "Parse" and (parse := _PARSE.match(fields)):
                name, query = parse.groups()
                if name:
                    prepared[name] = query
                else:
                    unnamed = query
            elif message == "Bind" and (bind := _BIND.match(fields)):
                statement = bind.group(1)
                bound = prepared.get(statement, "(prepared)") if statement else unnamed
            elif message == "Execute":
                cost.statements.append(bound)
        elif direction == "B" and previous == "F":
            cost.round_trips += 1
        if direction in ("F", "B"):
            previous = direction


def cost_on(conn: Any, work: Callable[[], Any]) -> Cost:
    """The cost of ``work`` on one PostgreSQL connection of the caller's."""
    cost = Cost()
    with tempfile.TemporaryFile("w+b") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(_TRACE_FLAGS)
        try:
            work()
        finally:
            conn.pgconn.untrace()
            _read_trace(conn, trace, cost)
    return cost
