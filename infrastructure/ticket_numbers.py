"""Dense human ticket numbers: 1, 2, 3... in the order tickets were opened, for good.

A side table of the event log, like the hash records (infrastructure/audit_log.py): the
recorder writes a ticket's number in the transaction of its opening event, after the
events' INSERT, so it holds the write lock every writer takes (PostgreSQL's table lock,
SQLite's write lock). Numbers are handed out one after another under that lock, in the
order the opening events get their positions: no gaps (a sequence would leave one for
every rolled-back transaction), no duplicates across gunicorn workers, and the number is
known as soon as the ticket is.

The table is therefore a function of the log: the n-th opening event by position is
ticket number n. Tickets opened before the table existed are numbered by exactly that
rule when it is created (``TicketNumbers.create_table``), audit verify checks that every
row still obeys it (``first_break``), and an analyst rebuilding views from the log gets
the same numbers, which views read from here rather than compute.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.audit_chain import Break
from domain.ticket import Ticket
from infrastructure.sql import SqlDatabase
from infrastructure.views.bulk import rows_param, table_rows, typed_rows

TABLE = "ticket_numbers"
OPENED_TOPIC = get_topic(Ticket.Opened)
# The column type every view keeps numbers in: a number beyond it names no ticket.
MAX_NUMBER = 2**63 - 1

CREATE = (
    "CREATE TABLE IF NOT EXISTS {t} (number BIGINT PRIMARY KEY, "
    "ticket_id TEXT NOT NULL UNIQUE, position BIGINT NOT NULL UNIQUE)"
)
# One statement a ticket, so several tickets saved together number in order: each
# INSERT sees the rows the previous ones wrote in this transaction.
_NEXT_NUMBER = (
    "INSERT INTO {t} (number, ticket_id, position) "
    "SELECT COALESCE(MAX(number), 0) + 1, :ticket_id, :position FROM {t} "
    "RETURNING ticket_id, number"
)
PAGE = 5000
# How many tickets' numbers a process keeps at hand (a number never changes once given).
KNOWN_NUMBERS = 10_000


def write_numbers(
    db: SqlDatabase, cursor: Any, stored_events: Sequence[StoredEvent], positions: Sequence[int]
) -> Callable[[], dict[UUID, int]]:
    """Number the tickets these events open (same transaction, after their INSERT).

    Returns how to read the numbers given, to call once the transaction is over: on
    PostgreSQL the pipeline hands the INSERT's answer back with the COMMIT's, so the
    201 needs no second query for its ``number``. There the tickets are numbered by one
    statement, in a cursor of its own (a pipelined cursor keeps only its last
    statement's rows); ``executemany(returning=True)`` would wait for its rows
    mid-transaction, a round trip taken under the events table's lock.
    """
    opened = sorted(
        (position, str(_uuid(s.originator_id)))
        for s, position in zip(stored_events, positions, strict=True)
        if s.originator_version == 1 and s.topic == OPENED_TOPIC
    )
    if not opened:
        return dict
    rows = [{"ticket_id": ticket_id, "position": position} for position, ticket_id in opened]
    if db.is_postgres:
        # One statement for all of them (a group commit opens several tickets at once).
        numbering = cursor.connection.cursor()
        db.execute(numbering, _next_numbers(db.table(TABLE)), rows_param(rows))
        return lambda: _returned_numbers(numbering)
    statement = _NEXT_NUMBER.format(t=db.table(TABLE))
    given: dict[UUID, int] = {}
    for row in rows:  # SQLite's executemany returns no rows
        db.execute(cursor, statement, row)
        ticket_id, number = cursor.fetchone()
        given[UUID(ticket_id)] = number
    return lambda: given


@lru_cache(maxsize=8)
def _next_numbers(table: str) -> str:
    """``_NEXT_NUMBER`` for a group of tickets at once, numbered in position order."""
    return (
        f"INSERT INTO {table} (number, ticket_id, position) "
        f"SELECT (SELECT COALESCE(MAX(number), 0) FROM {table}) "
        "+ row_number() OVER (ORDER BY r.position), r.ticket_id, r.position "
        f"FROM {typed_rows({'ticket_id': 'text', 'position': 'bigint'})} "
        "RETURNING ticket_id, number"
    )


def _returned_numbers(cursor: Any) -> dict[UUID, int]:
    with cursor:
        # By name: the datastore's connections give dict rows.
        return {UUID(row["ticket_id"]): row["number"] for row in cursor.fetchall()}


def numbered_insert(
    table: str, numbers: str, row_id: str, fields: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A view's INSERT of a ticket's row whose ``number`` is read from the numbers table
    by the database (committed with the opening event, so always there by the time a
    view sees the event): no round trip, and a rebuild gets the same numbers."""
    params = {k: v for k, v in fields.items() if k != "number"}
    params["id"] = row_id
    return _numbered_insert_sql(table, numbers, tuple(params)), params


@lru_cache(maxsize=64)
def _numbered_insert_sql(table: str, numbers: str, columns: tuple[str, ...]) -> str:
    values = ", ".join(f":{c}" for c in columns)
    number = f"(SELECT number FROM {numbers} WHERE ticket_id = :id)"
    return f"INSERT INTO {table} (number, {', '.join(columns)}) VALUES ({number}, {values})"


@lru_cache(maxsize=64)
def numbered_bulk_insert(table: str, numbers: str, columns: tuple[str, ...]) -> str:
    """``numbered_insert``'s statement for a group of rows at once (views.bulk): the
    rows' ``columns`` (``id`` among them) from the JSON array, each row's number read
    as the single-row statement reads it."""
    number = f"(SELECT number FROM {numbers} WHERE ticket_id = r.id)"
    values = ", ".join(f"r.{c}" for c in columns)
    return (
        f"INSERT INTO {table} (number, {', '.join(columns)}) "
        f"SELECT {number}, {values} FROM {table_rows(table)}"
    )


class TicketNumbers:
    """The numbers table: creation (with the numbering of older tickets) and reads."""

    def __init__(self, db: SqlDatabase, events_table: str):
        self.db = db
        self.t = db.table(TABLE)
        self.events = db.table(events_table)
        # SQLite's events table has no position column: its rowid is the position.
        self._position = "notification_id" if db.is_postgres else "rowid"
        # Numbers this process gave or read: a ticket's number never changes, so a
        # command's answer reads it from here rather than from the database.
        self._known: OrderedDict[UUID, int] = OrderedDict()

    def create_table(self, renumbered: Iterable[str] = ()) -> int:
        """Create the table; if it is empty while tickets exist (a database made before
        numbers were dense), number those tickets 1..N in the order of their opening
        events and give the rows of ``renumbered`` views the same numbers, all in one
        transaction. Returns how many tickets were numbered so."""
        with self.db.transaction(commit=True) as cursor:
            self.db.execute(cursor, CREATE.format(t=self.t))
            self.db.execute(cursor, f"SELECT 1 FROM {self.t} LIMIT 1")
            if cursor.fetchone() is not None:
                return 0
            if self.db.is_postgres:
                # Writers already running must not open a ticket meanwhile (SQLite's
                # write transaction excludes them already).
                self.db.execute(cursor, f"LOCK TABLE {self.events} IN EXCLUSIVE MODE")
            opened = self._opening_events(cursor)
            if not opened:
                return 0
            self.db.executemany(
                cursor,
                f"INSERT INTO {self.t} (number, ticket_id, position) "
                "VALUES (:number, :ticket_id, :position)",
                [
                    {"number": n, "ticket_id": str(_uuid(ticket)), "position": position}
                    for n, (position, ticket) in enumerate(opened, start=1)
                ],
            )
            for view in renumbered:
                if self.db.has_column(cursor, view.split(".")[-1].strip('"'), "number"):
                    self.db.execute(
                        cursor,
                        f"UPDATE {view} SET number = COALESCE((SELECT n.number FROM {self.t} n "
                        f"WHERE n.ticket_id = {view}.id), number)",
                    )
            return len(opened)

    def _opening_events(self, cursor: Any) -> list[tuple[int, Any]]:
        p = self._position
        self.db.execute(
            cursor,
            f"SELECT {p} AS position, originator_id FROM {self.events} "
            f"WHERE originator_version = 1 AND topic = :topic ORDER BY {p}",
            {"topic": OPENED_TOPIC},
        )
        # By name: the cursor reads by name afterwards (SqlDatabase.has_column).
        return [(row["position"], row["originator_id"]) for row in cursor.fetchall()]

    # Reads.

    def remember(self, given: dict[UUID, int]) -> None:
        """Keep the numbers a committed write gave (write_numbers)."""
        for ticket_id, number in given.items():
            self._keep(ticket_id, number)

    def number_of(self, ticket_id: UUID) -> int | None:
        known = self._known.get(ticket_id)
        if known is not None:
            return known
        rows = self._read(
            f"SELECT number FROM {self.t} WHERE ticket_id = :id", {"id": str(ticket_id)}
        )
        if not rows:
            return None
        self._keep(ticket_id, rows[0][0])
        return rows[0][0]

    def _keep(self, ticket_id: UUID, number: int) -> None:
        self._known[ticket_id] = number
        while len(self._known) > KNOWN_NUMBERS:
            self._known.popitem(last=False)  # atomic, unlike iterating to find the oldest

    def ticket_numbered(self, number: int) -> UUID | None:
        if not 1 <= number <= MAX_NUMBER:
            return None
        rows = self._read(f"SELECT ticket_id FROM {self.t} WHERE number = :n", {"n": number})
        return UUID(rows[0][0]) if rows else None

    def number_and_position(self, ticket_id: UUID, version: int) -> tuple[int, int] | None:
        """The ticket's number and the position of one of its versions, in one query."""
        p = self._position
        rows = self._read(
            f"SELECT (SELECT number FROM {self.t} WHERE ticket_id = :ticket), {p} "
            f"FROM {self.events} WHERE originator_id = :id AND originator_version = :version",
            {
                "ticket": str(ticket_id),
                "id": ticket_id if self.db.is_postgres else ticket_id.hex,
                "version": version,
            },
        )
        return (rows[0][0], rows[0][1]) if rows else None

    # Verify.

    def first_break(self) -> Break | None:
        """The first row that breaks the rule (the n-th opening event by position is
        number n), or the first opening event without a number."""
        expected, after_position, p = 1, 0, self._position
        while True:
            rows = self._read(
                f"SELECT n.number, n.ticket_id, n.position, e.originator_id, "
                f"e.originator_version, e.topic FROM {self.t} n "
                f"LEFT JOIN {self.events} e ON e.{p} = n.position "
                f"WHERE n.number >= :from ORDER BY n.number LIMIT {PAGE}",
                {"from": expected},
            )
            for number, ticket, position, originator, version, topic in rows:
                broken = _row_break(number, expected, ticket, position, after_position)
                if broken is None and (
                    originator is None
                    or _uuid(originator) != _uuid(ticket)
                    or (version, topic) != (1, OPENED_TOPIC)
                ):
                    broken = f"names position {position}, which is not ticket {ticket}'s opening"
                if broken is not None:
                    return Break(f"ticket number {number} {broken}", position=position,
                                 aggregate_id=_uuid(ticket))  # fmt: skip
                expected, after_position = number + 1, position
            if len(rows) < PAGE:
                break
        return self._unnumbered()

    def _unnumbered(self) -> Break | None:
        p = self._position
        rows = self._read(
            f"SELECT e.{p}, e.originator_id FROM {self.events} e "
            f"LEFT JOIN {self.t} n ON n.position = e.{p} WHERE e.originator_version = 1 "
            f"AND e.topic = :topic AND n.number IS NULL ORDER BY e.{p} LIMIT 1",
            {"topic": OPENED_TOPIC},
        )
        if not rows:
            return None
        position, ticket = rows[0]
        return Break("ticket has no number (its number row was deleted)", position=position,
                     aggregate_id=_uuid(ticket))  # fmt: skip

    def _read(self, statement: str, params: dict[str, Any]) -> list[tuple]:
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, params)
            return self.db.fetch_values(cursor)


def _row_break(
    number: int, expected: int, ticket: str, position: int, after_position: int
) -> str | None:
    if number != expected:
        missing = str(expected) if number == expected + 1 else f"{expected} to {number - 1}"
        return f"comes next, but {missing} is missing: numbers must have no gaps"
    if position <= after_position:
        return "was opened before a lower number: numbers are out of creation order"
    try:
        UUID(ticket)
    except (TypeError, ValueError, AttributeError):
        return f"names {ticket!r}, which is not a ticket id"
    return None


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (TypeError, ValueError, AttributeError):
        return UUID(int=0)
