"""How a view writes a batch (infrastructure/views/base.py, written_with_position): its
rows and its position in one transaction - on PostgreSQL in one round trip - and never
a batch the view is already past, so two processes applying the same events cannot
count them twice."""

from __future__ import annotations

import io

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from infrastructure.projector import ViewFollower
from infrastructure.rebuild import rebuild
from infrastructure.views.base import written_with_position
from infrastructure.views.registry import VIEWS
from tests.integration.builders import AGENT, open_ticket
from tests.integration.sql_trace import counting, observe_connections  # noqa: F401

VIEWS_WRITTEN = ["ticket_list", "queue", "routing", "sla", "reports"]


def _changes(atende, name: str, since: int = 0) -> tuple[list, int]:
    """The changes the view's projection makes of the events after ``since``, and the
    last event's position."""
    projection = VIEWS[name].projection(view=atende.views[name])
    notifications = atende.tickets.recorder.select_notifications(
        start=since, limit=100, inclusive_of_start=False
    )
    changes = []
    for notification in notifications:
        event = atende.tickets.mapper.to_domain_event(notification)
        changes.extend(projection.changes(event, notification.id))
    return changes, notifications[-1].id


def _open_and_apply(atende, name: str, since: int = 0, **ticket) -> tuple[list, int]:
    """Open a ticket and apply the events after ``since`` to the view in one batch; the
    batch's changes and its last position."""
    open_ticket(atende, **ticket)
    changes, last = _changes(atende, name, since)
    atende.views[name].apply(changes, Tracking(atende.tickets.name, last))
    return changes, last


@pytest.mark.parametrize("name", VIEWS_WRITTEN)
def test_a_batch_and_its_position_are_written_together(atende, name):
    changes, last = _open_and_apply(atende, name)
    view = atende.views[name]

    assert view.max_tracking_id(atende.tickets.name) == last
    assert bool(changes) == bool(_stored(view.rows()))  # sla: no policy, no rows
    caught_up = ViewFollower(atende.tickets, VIEWS[name].projection(view=view))
    assert caught_up.step() == 0  # nothing left to apply: the rows came with the position


def _stored(rows) -> bool:
    return any(rows.values()) if isinstance(rows, dict) else bool(rows)


@pytest.mark.parametrize("name", VIEWS_WRITTEN)
def test_a_batch_the_view_is_already_past_is_refused_and_writes_no_row(atende, name):
    _, first_last = _open_and_apply(atende, name)
    later, later_last = _open_and_apply(atende, name, since=first_last, subject="Otro")
    view = atende.views[name]
    rows = view.rows()

    # Another process still holding the second batch applies it again.
    with pytest.raises(IntegrityError):
        view.apply(later, Tracking(atende.tickets.name, later_last))
    with pytest.raises(IntegrityError):
        view.apply(later, Tracking(atende.tickets.name, first_last))

    assert view.rows() == rows
    assert view.max_tracking_id(atende.tickets.name) == later_last


def test_a_refused_batch_leaves_the_connection_usable(atende):
    changes, last = _open_and_apply(atende, "ticket_list")
    view = atende.views["ticket_list"]
    for _ in range(3):  # more refusals than a small pool has connections
        with pytest.raises(IntegrityError):
            view.apply(changes, Tracking(atende.tickets.name, last))

    open_ticket(atende, subject="Después")
    assert ViewFollower(atende.tickets, VIEWS["ticket_list"].projection(view=view)).step() > 0


# The reports view reads the facts it folds the batch into: the position and the tickets'
# facts, the surveys' facts (when the batch has any), then the writes and COMMIT (six before).
ROUND_TRIPS = {"ticket_list": 1, "queue": 1, "routing": 1, "reports": 3}  # sla: no policy


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_on_postgres_a_batch_costs_its_round_trips(observe_connections, atende, name):  # noqa: F811
    open_ticket(atende)
    changes, last = _changes(atende, name)
    view = atende.views[name]
    view.apply([], Tracking(atende.tickets.name, 1))  # its statements prepared once
    assert changes

    with counting() as cost:
        view.apply(changes, Tracking(atende.tickets.name, last))

    # BEGIN, the position, the rows and COMMIT leave together (four round trips before)
    assert cost.round_trips <= ROUND_TRIPS[name], cost.statements
    assert cost.statements[0].startswith("BEGIN") and cost.statements[-1] == "COMMIT"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_on_postgres_a_batch_of_new_tickets_reaches_the_queue_in_one_statement_a_table(
    observe_connections,  # noqa: F811
    atende,
):
    ids = [open_ticket(atende, tags=["wifi", f"zona-{n}"]).ticket.id for n in range(6)]
    view = atende.views["queue"]
    first, applied = _changes_and_position(atende, "queue")
    view.apply(first, applied)  # the six, then one batch of:
    for closed in ids[:2]:
        atende.tickets.change(closed, lambda t: t.resolve(None, AGENT))
        atende.tickets.change(closed, lambda t: t.close(AGENT))
    for retagged in ids[2:4]:
        atende.tickets.change(retagged, lambda t: t.change_tags([], ["wifi"], AGENT))
    for n in range(6):
        open_ticket(atende, tags=["fibra", f"zona-{n}"])

    with counting() as cost:
        view.apply(*_changes_and_position(atende, "queue", since=applied.notification_id))

    # Each group of rows is one set-based statement (views.bulk), not one per row.
    assert cost.shapes["INSERT queue_tickets"] == 1  # six new rows
    assert cost.shapes["INSERT queue_ticket_tags"] == 1  # their twelve tags
    assert cost.shapes["DELETE queue_tickets"] == 1  # two closed tickets
    assert cost.shapes["DELETE queue_ticket_tags"] == 2  # their tags; two removed tags
    rows = {row["id"]: row for row in view.rows()}
    assert sorted(row["number"] for row in rows.values()) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert [rows[str(i)]["tags"] for i in ids[2:4]] == [["zona-2"], ["zona-3"]]
    assert sum(row["tags"][0] == "fibra" for row in rows.values()) == 6


def _changes_and_position(atende, name: str, since: int = 0) -> tuple[list, Tracking]:
    changes, last = _changes(atende, name, since)
    return changes, Tracking(atende.tickets.name, last)


def test_the_reports_view_fed_in_batches_of_one_equals_its_rebuild(atende):
    """The reports view reads each batch's facts before it writes them (mid-pipeline on
    PostgreSQL): batches of one event must end where one batch of everything does."""
    first = open_ticket(atende).ticket.id
    open_ticket(atende, subject="Otra avería")
    atende.tickets.change(first, lambda t: t.assign(AGENT.id, AGENT))
    atende.tickets.change(first, lambda t: t.resolve("reiniciado", AGENT))
    view = atende.views["reports"]
    one_by_one = ViewFollower(atende.tickets, VIEWS["reports"].projection(view=view), batch_size=1)
    one_by_one.catch_up()
    live = view.rows()

    rebuild(atende, "reports", io.StringIO())

    assert atende.views["reports"].rows() == live
    assert any(live.values())


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_rebuilt_view_goes_live_with_its_planner_statistics_collected(atende, name):
    """Tables filled in bulk have no column statistics until autovacuum analyzes them,
    and the planner's guesses meanwhile made the 30-day report three times slower."""
    open_ticket(atende)
    rebuild(atende, name, io.StringIO())
    live = atende.views[name].owned_tables()
    analyzed = {
        table: atende.db.fetchone(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relid = CAST(:t AS regclass)",
            {"t": table},
        )
        for table in live
    }
    assert analyzed and all(row and row["last_analyze"] for row in analyzed.values()), analyzed


def _commit_wait(db, cursor) -> str:
    """Whether this transaction's COMMIT waits for the disk: SQLite's safety level (2,
    FULL: it does; 1, NORMAL: not in WAL mode), PostgreSQL's synchronous_commit."""
    if db.is_postgres:
        cursor.execute("SHOW synchronous_commit")
        return {"on": "waits", "off": "does not wait"}[cursor.fetchone()["synchronous_commit"]]
    cursor.execute("PRAGMA synchronous")
    return {2: "waits", 1: "does not wait"}[cursor.fetchone()[0]]


def test_a_views_batch_commits_without_waiting_for_the_disk_and_the_logs_writes_still_do(
    atende,
):
    """A view can be derived again from the log, so its batch need not wait for an fsync
    that, on SQLite, holds the write lock every request waits on; the log's writes,
    which nothing can derive again, must still wait, before and after a batch."""
    view = atende.views["ticket_list"]
    db = view.db
    open_ticket(atende)
    with db.transaction() as cursor:
        assert _commit_wait(db, cursor) == "waits"
    with (
        written_with_position(view, Tracking(atende.tickets.name, 1)) as batch,
        db.side_cursor(batch) as side,
    ):
        inside = _commit_wait(db, side)
    with db.transaction() as cursor:
        after = _commit_wait(db, cursor)

    assert (inside, after) == ("does not wait", "waits")
    assert view.max_tracking_id(atende.tickets.name) == 1
    assert atende.tickets.recorder.datastore is db.datastore  # the log's own connections
