"""An idle follower: it takes new events without waiting out its fallback poll (on
PostgreSQL it wakes on the events' NOTIFY), and it stops when told, on both backends.
A busy one lets commits gather between batches (its pace), and still takes the first
event after an idle spell at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from infrastructure.projector import ViewFollower
from infrastructure.shared_log import SharedLog
from infrastructure.views.registry import VIEWS
from tests.integration.builders import open_ticket

# Far longer than any wait below: a follower that catches up sooner was woken.
FALLBACK_SECONDS = 60.0
BOUND_SECONDS = 10.0


@dataclass
class ObservedFollower(ViewFollower):
    """Says when a step found nothing, i.e. the follower is about to wait."""

    idle: threading.Event = field(default_factory=threading.Event)
    batches: list[int] = field(default_factory=list)  # events of each non-empty step

    def step(self) -> int:
        count = super().step()
        if count == 0:
            self.idle.set()
        else:
            self.batches.append(count)
        return count


@contextmanager
def running(follower: ViewFollower) -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=BOUND_SECONDS)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {BOUND_SECONDS:.0f} s"
        time.sleep(0.01)


def test_an_idle_follower_takes_a_new_event_without_waiting_out_its_fallback(atende):
    follower = ObservedFollower(
        atende.tickets,
        VIEWS["queue"].projection(view=atende.views["queue"]),
        fallback_seconds=FALLBACK_SECONDS,
    )
    open_ticket(atende)
    head = atende.tickets.head_position
    with running(follower) as thread:
        wait_until(follower.idle.is_set)
        assert follower.position() == head()
        open_ticket(atende)
        wait_until(lambda: follower.position() == head())
    assert not thread.is_alive(), "the follower did not stop when told"


def test_a_follower_under_a_stream_of_commits_applies_them_in_batches(atende):
    follower = ObservedFollower(
        atende.tickets,
        VIEWS["ticket_list"].projection(view=atende.views["ticket_list"]),
        fallback_seconds=FALLBACK_SECONDS,
        pace_seconds=BOUND_SECONDS / 4,  # far longer than opening the tickets below
    )
    head = atende.tickets.head_position
    with running(follower):
        wait_until(follower.idle.is_set)
        for _ in range(10):
            open_ticket(atende)
        wait_until(lambda: follower.position() == head())
    # The first commit is applied at once (a batch of its own, or of the few that
    # landed meanwhile); the rest gather while the follower keeps its pace.
    assert len(follower.batches) < 10, follower.batches
    assert sum(follower.batches) == head()
    assert len(atende.views["ticket_list"].rows()) == 10


def test_a_paced_follower_takes_commands_that_come_one_at_a_time_at_once(atende):
    # A client that writes, reads its write from the view, then writes again: each
    # command finds the follower idle, and none waits out the pace.
    follower = ObservedFollower(
        atende.tickets,
        VIEWS["queue"].projection(view=atende.views["queue"]),
        fallback_seconds=FALLBACK_SECONDS,
        pace_seconds=FALLBACK_SECONDS,  # a pace applied here would outlast the wait
    )
    head = atende.tickets.head_position
    with running(follower):
        wait_until(follower.idle.is_set)
        for _ in range(3):
            follower.idle.clear()
            open_ticket(atende)
            wait_until(lambda: follower.position() == head() and follower.idle.is_set())


def _listeners() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "events-listener" and t.is_alive()]


def test_followers_sharing_the_log_wake_on_new_events_through_one_listener(atende, backend):
    # A follower alone listens on a listener of its own, which stops within a second of
    # its last wait: let those of the tests before this one go.
    wait_until(lambda: not _listeners())
    log = SharedLog(atende.tickets.recorder, atende.tickets.mapper)
    followers = [
        ObservedFollower(
            atende.tickets,
            VIEWS[name].projection(view=atende.views[name]),
            fallback_seconds=FALLBACK_SECONDS,
            log=log,
        )
        for name in ("queue", "ticket_list")
    ]
    open_ticket(atende)
    head = atende.tickets.head_position
    with running(followers[0]), running(followers[1]):
        wait_until(lambda: all(f.idle.is_set() for f in followers))
        # PostgreSQL: one LISTEN for both (each follower had a connection listening);
        # SQLite has no notifications and watches its files as before.
        assert len(_listeners()) == (1 if backend == "postgres" else 0)
        for _ in range(2):
            open_ticket(atende)
            wait_until(lambda: all(f.position() == head() for f in followers))
    # Nobody waits any more: the listener stops and gives its connection back.
    wait_until(lambda: not _listeners())
