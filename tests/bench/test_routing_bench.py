"""Routing and intake (issue 5).

* routing decisions with 500 agents and 10,000 waiting tickets: the whole plan (every
  ticket decided) against a naive plan that scans every agent for every ticket, and one
  round as the projector runs it (read agents with their loads, read the waiting
  tickets, decide for an agent who just came online) against the raw read of the same
  rows, on SQLite and PostgreSQL;
* email intake messages/s (parse + thread lookup + save; half new tickets, half replies)
  against opening the same tickets from JSON through the application, on both databases.

Nothing is asserted on time; the results themselves are checked.

    .venv/bin/pytest tests/bench/test_routing_bench.py -s -p no:cacheprovider -o addopts="" -m bench
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from eventsourcing.persistence import Tracking

from application.intake import Intake
from domain.actor import Actor
from domain.customer import Contact
from domain.routing import AgentState, WaitingTicket, choose_agent, plan_assignments
from infrastructure.heap import freeze_startup_heap
from infrastructure.mail import parse_email
from interface.http.resources.intake import inbound_email
from interface.wiring import bootstrap
from projections.routing import AGENTS, TICKETS, RoutingChange
from tests.bench.summary import record
from tests.databases import BACKENDS, fresh_database_url, settings_for

pytestmark = pytest.mark.bench
INTAKE_RATIO_TARGET = 0.8  # issue 19

AGENT_COUNT = int(os.environ.get("ATENDE_BENCH_AGENTS", "500"))
WAITING = int(os.environ.get("ATENDE_BENCH_WAITING", "10000"))
EMAILS = int(os.environ.get("ATENDE_BENCH_EMAILS", "1000"))
INTAKE_ROUND = 25  # new emails (and as many replies) per round of the intake bench
LANGUAGES = ("es", "pt", "en", "gn", "qu")
CATEGORIES = tuple(f"topic-{i}" for i in range(20))
INTEGRATOR = Actor(id="bench", name="bench", role="integrator")


def make_agents(rng: random.Random, capacity: int) -> list[AgentState]:
    return [
        AgentState(
            agent_id=f"agent-{i:04d}",
            languages=tuple(rng.sample(LANGUAGES[:3], rng.randint(1, 2)))
            + (("gn",) if rng.random() < 0.1 else ()),
            skills=tuple(rng.sample(CATEGORIES, rng.randint(2, 6))),
            generalist=rng.random() < 0.2,
            capacity=capacity,
            load=rng.randint(0, 2),
            availability="online" if rng.random() < 0.8 else "away",
            last_assigned=rng.randint(0, 1000),
        )
        for i in range(AGENT_COUNT)
    ]


def make_waiting(rng: random.Random) -> list[WaitingTicket]:
    return [
        WaitingTicket(
            ticket_id=f"ticket-{i:06d}",
            language=rng.choice(("es", "es", "pt", "pt-BR", "en", "gn")),
            category=rng.choice((*CATEGORIES, None)),
        )
        for i in range(WAITING)
    ]


def naive_plan(waiting: list[WaitingTicket], agents: list[AgentState]) -> int:
    """Every ticket scans every agent (choose_agent over the whole list)."""
    current = {a.agent_id: a for a in agents}
    clock = max(a.last_assigned for a in agents)
    made = 0
    for ticket in waiting:
        chosen = choose_agent(ticket, current.values())
        if chosen is None:
            continue
        clock += 1
        agent = current[chosen.agent_id]
        current[chosen.agent_id] = replace(agent, load=agent.load + 1, last_assigned=clock)
        made += 1
    return made


def test_routing_plan_for_every_waiting_ticket() -> None:
    rng = random.Random(5)
    agents, waiting = make_agents(rng, capacity=40), make_waiting(rng)
    started = time.perf_counter()
    plan = plan_assignments(waiting, agents)
    planned = time.perf_counter() - started
    started = time.perf_counter()
    made = naive_plan(waiting, agents)
    naive = time.perf_counter() - started
    assert len(plan) == made > WAITING // 2
    print(
        f"\n\nrouting plan, {AGENT_COUNT} agents x {WAITING:,} waiting tickets: "
        f"{len(plan):,} assigned in {planned * 1000:.0f} ms "
        f"({planned / len(plan) * 1e6:.1f} us per decision); naive scan {naive * 1000:.0f} ms; "
        f"ratio naive/plan {naive / planned:.1f}"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_routing_round_on_a_real_view(backend: str, tmp_path: Path) -> None:
    rng = random.Random(7)
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            view = atende.views["routing"]
            # Everyone busy (at capacity) but one agent who just came online.
            agents = [replace(a, load=0) for a in make_agents(rng, capacity=0)]
            agents[0] = replace(agents[0], capacity=5, availability="online", generalist=True)
            view.apply(agent_rows(agents) + ticket_rows(make_waiting(rng)), Tracking("Atende", 1))
            rounds, started = 20, time.perf_counter()
            for _ in range(rounds):
                current = view.agents()
                ready = sorted({tag for a in current if a.capacity > a.load for tag in a.languages})
                plan = plan_assignments(view.waiting(ready), current)
            decided = (time.perf_counter() - started) / rounds
            started = time.perf_counter()
            for _ in range(rounds):
                raw = raw_waiting(view)
            read = (time.perf_counter() - started) / rounds
            assert len(plan) == 5 and len(raw) == WAITING
        finally:
            atende.close()
    print(
        f"\n\n{backend}: one routing round ({AGENT_COUNT} agents, {WAITING:,} waiting, one "
        f"agent coming online): {decided * 1000:.1f} ms; raw read of the waiting tickets "
        f"{read * 1000:.1f} ms; ratio round/raw read {decided / read:.2f}"
    )


def agent_rows(agents: list[AgentState]) -> list[RoutingChange]:
    return [
        RoutingChange(
            AGENTS,
            a.agent_id,
            {
                "name": a.agent_id, "email": f"{a.agent_id}@x", "languages": list(a.languages),
                "skills": list(a.skills), "generalist": a.generalist, "capacity": a.capacity,
                "availability": a.availability, "active": True, "last_assigned": a.last_assigned,
                "registered_at": i,
            },
            insert=True,
        )
        for i, a in enumerate(agents)
    ]  # fmt: skip


def ticket_rows(waiting: list[WaitingTicket]) -> list[RoutingChange]:
    return [
        RoutingChange(
            TICKETS,
            t.ticket_id,
            {
                "number": i, "language": t.language,
                "language_primary": t.language.split("-")[0] if t.language else None,
                "category": t.category, "priority_rank": i % 4, "assignee": None, "active": True,
            },
            insert=True,
        )
        for i, t in enumerate(waiting)
    ]  # fmt: skip


def raw_waiting(view) -> list:
    with view.db.reading() as cursor:
        view.db.execute(
            cursor,
            f"SELECT id, language, category FROM {view.tickets_table} "
            "WHERE assignee IS NULL AND active = 1 ORDER BY priority_rank, number",
        )
        return cursor.fetchall()


def make_email(i: int, reply_to: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = f"Cliente {i} <cliente{i}@example.com>"
    message["To"] = "soporte@example.com"
    message["Subject"] = f"Re: Sin conexión {i}" if reply_to else f"Sin conexión {i}"
    message["Message-ID"] = f"<bench-{i}-{'r' if reply_to else 'n'}@example.com>"
    if reply_to:
        message["In-Reply-To"] = f"<{reply_to}>"
    message.set_content("Hola, el módem parpadea en rojo desde ayer y no navega.\n" * 5)
    message.add_alternative("<p>Hola, el módem <b>parpadea</b> en rojo.</p>", subtype="html")
    return bytes(message)


@pytest.mark.parametrize("backend", BACKENDS)
def test_email_intake_messages_per_second(backend: str, tmp_path: Path) -> None:
    # Intake and the JSON opens alternate in rounds, so a machine that speeds up or slows
    # down during the run (runs of one tree moved by 30 % within minutes) weighs on both.
    half = EMAILS // 2
    rounds = max(1, half // INTAKE_ROUND)
    intake_seconds = open_seconds = 0.0
    outcomes = []
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            atende.warm_up()
            # As a gunicorn worker does once it has built its app (interface/http/server/
            # gunicorn_conf.py). Left out, full collections walk everything pytest
            # imported, and the parse's allocations set off more of them than a JSON
            # open's: a cost of this process, not the server's.
            freeze_startup_heap()
            intake = Intake(atende.tickets)
            for r in range(rounds):
                chunk = range(r * half // rounds, (r + 1) * half // rounds)
                news = [make_email(i) for i in chunk]
                replies = [make_email(i, reply_to=f"bench-{i}-n@example.com") for i in chunk]
                started = time.perf_counter()
                outcomes += [
                    intake.receive(inbound_email(parse_email(raw)), INTEGRATOR).outcome
                    for raw in news + replies
                ]
                intake_seconds += time.perf_counter() - started
                started = time.perf_counter()
                for i in (j + offset for j in chunk for offset in (0, half)):
                    atende.tickets.open_ticket(
                        subject=f"Sin conexión {i}",
                        description="Hola, el módem parpadea en rojo desde ayer y no navega.\n" * 5,
                        contact=Contact(name=f"Cliente {i}", email=f"json{i}@example.com"),
                        channel="email",
                        actor=INTEGRATOR,
                    )
                open_seconds += time.perf_counter() - started
        finally:
            atende.close()
    assert outcomes.count("opened") == half and outcomes.count("appended") == half
    intake_rate, open_rate = len(outcomes) / intake_seconds, len(outcomes) / open_seconds
    record("email intake/JSON open messages/s", backend, intake_rate / open_rate,
           at_least=INTAKE_RATIO_TARGET)  # fmt: skip
    print(
        f"\n\n{backend}: email intake {intake_rate:,.0f} messages/s ({half} new, {half} "
        f"replies); JSON open through the application {open_rate:,.0f}/s; "
        f"ratio {intake_rate / open_rate:.2f}"
    )
