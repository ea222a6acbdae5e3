"""The router as a process: it runs in the real projector (run_projector), follows the
log through the routing view and records assignments as ticket events, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from application.router import Router
from domain.actor import ROUTER, Actor
from infrastructure.projector import RoutingFollower
from infrastructure.views.registry import VIEWS
from interface.container import Atende
from interface.wiring import run_projector
from tests.integration.builders import open_ticket

ADMIN = Actor(id="admin-token", name="ops", role="admin")
BOUND_SECONDS = 20.0


def register(atende: Atende, name: str, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "name": name,
        "email": f"{name}@example.com",
        "languages": ["es"],
        "skills": [],
        "generalist": True,
        "capacity": 5,
    }
    fields.update(overrides)
    agent, _ = atende.tickets.agents.register(actor=ADMIN, **fields)
    return str(agent.id)


def set_online(atende: Atende, agent_id: str, availability: str = "online") -> None:
    atende.tickets.agents.change(agent_id, lambda a: a.set_availability(availability, ADMIN))


def assignees(atende: Atende, ticket_ids: list) -> list[str | None]:
    return [atende.tickets.get_ticket(t).assignee for t in ticket_ids]


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {BOUND_SECONDS:.0f} s"
        time.sleep(0.02)


def settled(atende: Atende) -> bool:
    """The routing view has seen every event, including the router's own."""
    view = atende.views["routing"]
    return (view.max_tracking_id(atende.tickets.name) or 0) == atende.tickets.head_position()


def wait_settled(atende: Atende) -> None:
    # Settled twice in a row, a moment apart: the router had its round and wrote nothing.
    def quiet() -> bool:
        if not settled(atende):
            return False
        head = atende.tickets.head_position()
        time.sleep(0.3)
        return settled(atende) and atende.tickets.head_position() == head

    wait_until(quiet)


@contextmanager
def projector(atende: Atende) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=run_projector, args=(atende, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=BOUND_SECONDS)


def test_a_new_ticket_goes_to_the_online_agent_who_speaks_its_language(atende):
    spanish = register(atende, "lucia", languages=["es"])
    portuguese = register(atende, "joao", languages=["pt"])
    for agent in (spanish, portuguese):
        set_online(atende, agent)
    with projector(atende):
        ticket = open_ticket(atende, language="pt-BR").ticket.id
        wait_until(lambda: assignees(atende, [ticket]) == [portuguese])
        wait_settled(atende)
    history = atende.tickets.history(ticket)
    assert [e.type for e in history] == ["opened", "assigned"]
    assigned = history[-1]
    assert assigned.actor == ROUTER
    assert assigned.data["reason"]["language"] == "pt-BR"
    assert assigned.data["reason"]["agent_languages"] == ["pt"]
    assert assigned.data["reason"]["load"] == 0


def test_a_ticket_waits_without_a_qualified_agent_and_is_assigned_when_one_comes_online(atende):
    billing = register(atende, "rosa", skills=["billing"], generalist=False)
    set_online(atende, billing)
    with projector(atende):
        ticket = open_ticket(atende, language="es", category="outage").ticket.id
        wait_settled(atende)
        assert assignees(atende, [ticket]) == [None]  # nobody knows outages yet
        outage = register(atende, "pedro", skills=["outage"], generalist=False)
        wait_settled(atende)
        assert assignees(atende, [ticket]) == [None]  # registered, but still offline
        set_online(atende, outage)
        wait_until(lambda: assignees(atende, [ticket]) == [outage])
    reason = atende.tickets.history(ticket)[-1].data["reason"]
    assert reason["skill"] == "outage"


def test_an_agent_coming_online_takes_only_their_capacity_from_the_backlog(atende):
    agent = register(atende, "ines", capacity=3)
    tickets = [open_ticket(atende, language="es").ticket.id for _ in range(8)]
    with projector(atende):
        wait_settled(atende)
        assert assignees(atende, tickets) == [None] * 8
        set_online(atende, agent)
        wait_until(lambda: assignees(atende, tickets).count(agent) == 3)
        wait_settled(atende)
        assert assignees(atende, tickets).count(agent) == 3  # no backlog dump
        # Freeing capacity (a ticket resolved) brings the next waiting ticket.
        mine = [t for t in tickets if atende.tickets.get_ticket(t).assignee == agent]
        atende.tickets.change(mine[0], lambda t: t.resolve(None, ADMIN))
        wait_until(lambda: assignees(atende, tickets).count(agent) == 4)
        wait_settled(atende)
    # Oldest first among equal priorities: the first four opened went to her.
    assert assignees(atende, tickets)[:4] == [agent] * 4


def test_equal_agents_share_the_tickets_evenly(atende):
    agents = [register(atende, f"agent{i}", capacity=100) for i in range(3)]
    for agent in agents:
        set_online(atende, agent)
    with projector(atende):
        tickets = [open_ticket(atende, language="es").ticket.id for _ in range(30)]
        wait_until(lambda: None not in assignees(atende, tickets))
        wait_settled(atende)
    counts = Counter(assignees(atende, tickets))
    assert sorted(counts) == sorted(agents)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_a_ticket_someone_assigned_is_never_routed_again(atende):
    agent = register(atende, "clara")
    other = register(atende, "bruno")
    ticket = open_ticket(atende, language="es").ticket.id
    atende.tickets.assign(ticket, other, force=True, actor=ADMIN)
    set_online(atende, agent)
    with projector(atende):
        wait_settled(atende)
    assert [e.type for e in atende.tickets.history(ticket)] == ["opened", "assigned"]
    assert assignees(atende, [ticket]) == [other]


def test_replaying_the_routing_view_from_scratch_assigns_nothing_twice(atende):
    agent = register(atende, "marta", capacity=10)
    set_online(atende, agent)
    with projector(atende):
        tickets = [open_ticket(atende, language="es").ticket.id for _ in range(4)]
        wait_until(lambda: None not in assignees(atende, tickets))
        wait_settled(atende)
    head = atende.tickets.head_position()
    # A fresh copy of the view (as a rebuild makes) followed from position 0, with its
    # router: it catches up on every assignment before it ever routes.
    fresh = VIEWS["routing"].make(atende.db.datastore, suffix="_replay")
    fresh.create_table()
    follower = RoutingFollower(
        atende.tickets,
        VIEWS["routing"].projection(view=fresh),
        batch_size=2,
        router=Router(atende.tickets, fresh),
    )
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    thread.start()
    wait_until(lambda: (fresh.max_tracking_id(atende.tickets.name) or 0) == head)
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=BOUND_SECONDS)
    assert atende.tickets.head_position() == head
    assert fresh.rows() == atende.views["routing"].rows()


def test_the_router_records_each_assignment_with_a_system_actor_that_leaves_the_etag(atende):
    agent = register(atende, "sofia")
    set_online(atende, agent)
    opened = open_ticket(atende, language="es")
    with projector(atende):
        wait_until(lambda: assignees(atende, [opened.ticket.id]) == [agent])
    ticket = atende.tickets.get_ticket(opened.ticket.id)
    assert ticket.version == 2 and ticket.etag_version == 1
    # An integrator's write made against the ETag it got on open still goes through.
    done = atende.tickets.change(
        ticket.id, lambda t: t.change_priority("high", ADMIN), expected_version=1
    )
    assert done.ticket.version == 3 and done.ticket.etag_version == 3


@pytest.mark.parametrize("availability", ["away", "offline"])
def test_agents_who_are_not_online_get_nothing(atende, availability):
    agent = register(atende, "tomas")
    set_online(atende, agent)
    set_online(atende, agent, availability)
    with projector(atende):
        ticket = open_ticket(atende, language="es").ticket.id
        wait_settled(atende)
    assert assignees(atende, [ticket]) == [None]


def test_a_deactivated_agent_gets_nothing(atende):
    agent = register(atende, "lara")
    set_online(atende, agent)
    atende.tickets.agents.change(agent, lambda a: a.deactivate(ADMIN))
    with projector(atende):
        ticket = open_ticket(atende, language="es").ticket.id
        wait_settled(atende)
    assert assignees(atende, [ticket]) == [None]
    assert atende.views["routing"].directory({})[0]["active"] is False
