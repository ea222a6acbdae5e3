"""The projector's followers read and decode the log once between them
(infrastructure/shared_log.py): the views they build are the ones followers reading
alone build, each event is decoded once, and no follower skips an event committed after
the events it was handed were read."""

from __future__ import annotations

from collections import Counter
from typing import Any

from infrastructure import shared_log
from infrastructure.projector import ViewFollower
from infrastructure.shared_log import SharedLog
from infrastructure.views.registry import VIEWS
from tests.integration.builders import INTEGRATOR, open_ticket

VIEWS_COMPARED = ("queue", "ticket_list", "reports", "routing")


class CountingRecorder:
    """The real recorder, counting the reads that reach the database."""

    def __init__(self, recorder: Any):
        self.recorder = recorder
        self.reads = 0

    def select_notifications(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.recorder.select_notifications(**kwargs)


class CountingMapper:
    """The real mapper, counting how often each event is decoded."""

    def __init__(self, mapper: Any):
        self.mapper = mapper
        self.decoded: Counter[int] = Counter()

    def to_domain_event(self, notification: Any) -> Any:
        self.decoded[notification.id] += 1
        return self.mapper.to_domain_event(notification)


def _log(atende, keep: int = 2000) -> tuple[SharedLog, CountingRecorder, CountingMapper]:
    recorder = CountingRecorder(atende.tickets.recorder)
    mapper = CountingMapper(atende.tickets.mapper)
    return SharedLog(recorder, mapper, keep=keep), recorder, mapper


def _follower(atende, name: str, suffix: str, log: SharedLog | None, batch: int = 5):
    view = VIEWS[name].make(atende.db.datastore, suffix=suffix)
    view.create_table()
    return ViewFollower(atende.tickets, VIEWS[name].projection(view=view), batch, log=log)


def _busy_log(atende, tickets: int) -> None:
    for n in range(tickets):
        ticket = open_ticket(atende, subject=f"Sin internet {n}").ticket
        atende.ticket_commands.add_message(
            ticket.id, body="Sigue sin andar", author_type="customer", visibility="public",
            actor=INTEGRATOR,
        )  # fmt: skip


def test_followers_sharing_the_log_build_the_views_followers_reading_alone_build(atende):
    _busy_log(atende, 8)
    log, recorder, mapper = _log(atende)
    shared = {name: _follower(atende, name, "_shared", log) for name in VIEWS_COMPARED}
    alone = {name: _follower(atende, name, "_alone", None) for name in VIEWS_COMPARED}

    first_reads = 0
    for name in VIEWS_COMPARED:
        shared[name].catch_up()
        alone[name].catch_up()
        first_reads = first_reads or recorder.reads

    head = atende.tickets.head_position()
    for name in VIEWS_COMPARED:
        assert shared[name].position() == alone[name].position() == head
        assert shared[name].view.rows() == alone[name].view.rows(), name
    assert mapper.decoded and set(mapper.decoded.values()) == {1}  # once, for four views
    # The first follower read the log; each other one only asked past its end.
    assert recorder.reads == first_reads + len(VIEWS_COMPARED) - 1


def test_a_follower_handed_older_events_still_gets_those_committed_after_them(atende):
    _busy_log(atende, 3)
    log, _, _ = _log(atende)
    ahead = _follower(atende, "queue", "_ahead", log)
    ahead.catch_up()  # the window: every event so far
    read_then = atende.tickets.head_position()
    _busy_log(atende, 3)  # committed after the window was read

    behind = _follower(atende, "queue", "_behind", log, batch=500)
    first = behind.step()
    assert behind.position() == read_then  # handed the window, a short batch...
    assert first < 500
    behind.catch_up()  # ...then the database's own answer past it
    alone = _follower(atende, "queue", "_alone", None)
    alone.catch_up()

    assert behind.position() == atende.tickets.head_position() > read_then
    assert behind.view.rows() == alone.view.rows()


def test_a_follower_behind_the_window_reads_for_itself_and_leaves_the_window_as_it_was(atende):
    _busy_log(atende, 6)
    log, recorder, _ = _log(atende, keep=3)
    _follower(atende, "queue", "_front", log).catch_up()
    reads = recorder.reads
    head = atende.tickets.head_position()
    assert log.read(head - 2, 10) != []  # the window's events, from memory
    assert recorder.reads == reads

    late = _follower(atende, "queue", "_late", log)
    late.catch_up()  # from the start: far behind the window
    alone = _follower(atende, "queue", "_alone", None)
    alone.catch_up()

    assert late.view.rows() == alone.view.rows()  # no event of the log skipped
    assert recorder.reads > reads
    reads = recorder.reads
    assert [n.id for n in log.read(head - 2, 10)] == [head - 1, head]
    assert recorder.reads == reads  # still the window, kept for the followers at the front


def test_past_its_byte_budget_the_window_keeps_only_its_newest_event(atende, monkeypatch):
    monkeypatch.setattr(shared_log, "KEEP_BYTES", 1)  # long messages, say
    _busy_log(atende, 3)
    log, recorder, _ = _log(atende)
    front = _follower(atende, "queue", "_front", log)
    front.catch_up()
    head = atende.tickets.head_position()
    reads = recorder.reads

    assert [n.id for n in log.read(head - 1, 10)] == [head]
    assert recorder.reads == reads  # the newest, from memory
    assert len(log.read(head - 3, 10)) == 3  # older: read again
    assert recorder.reads == reads + 1
