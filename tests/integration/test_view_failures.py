"""A view that cannot apply an event: its follower applies everything before it, the
failure is recorded with that event's position (the view's table altered by hand, a
trigger refusing one ticket's row, on SQLite and PostgreSQL), and the record goes once
the view gets past it; failures that are no event's clear only once the view is idle."""

from __future__ import annotations

import pytest

from infrastructure.projector import FailureWatch, ViewFollower
from infrastructure.view_failures import ViewFailures
from infrastructure.views.registry import VIEWS
from tests.integration.builders import open_ticket

POISON = "poison-ref"


def poison_ticket_list(atende) -> None:
    t = atende.views["ticket_list"].t
    if not atende.db.is_postgres:
        atende.db.create_tables([
            f"CREATE TRIGGER poison BEFORE INSERT ON {t} WHEN NEW.external_ref = '{POISON}' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        ])  # fmt: skip
        return
    function = atende.db.table("poison")
    atende.db.create_tables([
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.external_ref = '{POISON}' THEN RAISE EXCEPTION 'poisoned'; END IF; "
        "RETURN NEW; END $$",
        f"CREATE TRIGGER poison BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {function}()",
    ])  # fmt: skip


def cure_ticket_list(atende) -> None:
    on = f" ON {atende.views['ticket_list'].t}" if atende.db.is_postgres else ""
    atende.db.create_tables([f"DROP TRIGGER poison{on}"])


def followed(atende, name):
    follower = ViewFollower(atende.tickets, VIEWS[name].projection(view=atende.views[name]))
    follower.watch = FailureWatch(name, atende.view_failures)
    return follower


def test_a_view_applies_what_precedes_the_event_it_cannot_and_records_its_position(atende):
    poison_ticket_list(atende)
    first = open_ticket(atende).ticket.id
    poisoned = open_ticket(atende, external_ref=POISON).ticket.id
    last = open_ticket(atende).ticket.id
    follower = followed(atende, "ticket_list")

    for _ in range(2):  # two attempts, as the projector's retries make
        with pytest.raises(Exception, match="poisoned") as failed:
            follower.step()
        follower.watch.failed(failed.value, follower.attempting)

    at = atende.tickets.recorder.position_of(poisoned, 1)
    failure = atende.view_failures.all()["ticket_list"]
    assert (failure.position, failure.attempts) == (at, 2)
    assert failure.error.endswith(type(failed.value).__name__)
    assert follower.position() < at
    assert [row["id"] for row in atende.views["ticket_list"].rows()] == [str(first)]

    cure_ticket_list(atende)
    follower.catch_up()
    assert atende.view_failures.all() == {}
    listed = {row["id"] for row in atende.views["ticket_list"].rows()}
    assert listed == {str(first), str(poisoned), str(last)}


def test_a_failure_outside_any_event_clears_only_when_the_view_is_idle(atende):
    watch = FailureWatch("routing", atende.view_failures)
    watch.failed(RuntimeError("the router's round"), None)
    watch.passed(10**6)  # events applied, but the round may fail again after them
    assert atende.view_failures.all()["routing"].position is None
    watch.passed(None)
    assert atende.view_failures.all() == {}


def test_a_failure_a_previous_projector_recorded_is_cleared_by_the_next(atende):
    open_ticket(atende)
    ViewFailures(atende.db).record("queue", 1, RuntimeError("before a restart"))
    follower = followed(atende, "queue")
    follower.watch.resume()
    follower.catch_up()
    assert atende.view_failures.all() == {}
