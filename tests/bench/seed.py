"""Fast, realistic seeding for benchmarks: Ticket aggregates built in memory with the
domain's own commands, then saved a few hundred per call (``atende.tickets.save(*tickets)``),
instead of one HTTP request (or one transaction) per command.

Tickets are handled in chunks: a chunk's tickets are opened and saved together, then each
round of further commands is applied to every ticket of the chunk and saved together, so
the log interleaves the events of many tickets as a busy desk's log would.

Personal data (subject, requester, message bodies) goes through the real encrypting
transcoding; a bounded set of customers keeps the key ring's cache warm, as in production.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from domain.actor import Actor
from domain.customer import Contact
from domain.personal import Personal
from domain.ticket import Ticket
from domain.ticket_vocabulary import CHANNELS
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import REBUILD_BATCH_SIZE
from infrastructure.views.registry import VIEWS
from interface.container import Atende

INTEGRATOR = Actor(id="bench-integrator", name="crm", role="integrator")
AGENTS = [Actor(id=f"agent-{n}", name=f"agente {n}", role="agent") for n in range(40)]
CUSTOMERS = 2_000
CHUNK = 400  # tickets (aggregates) per save call
LANGUAGES = ("pt-BR", "pt", "pt-PT", "es", "es-AR", "es-MX", "en", "en-US", None)
PRIORITY_WEIGHTS = {"low": 15, "normal": 60, "high": 20, "urgent": 5}
CATEGORIES = ("billing", "network", "hardware", "account", "mobile", None)
TAGS = ("wifi", "fibra", "vip", "factura", "router", "movil", "portabilidad", "tv")
SUBJECTS = (
    "Sin internet desde ayer",
    "Cobro duplicado en la factura",
    "O modem reinicia sozinho",
    "Cannot log in to my account",
    "Cambio de plan",
    "Sinal fraco no quarto",
)

Command = Callable[[Ticket, random.Random], None]


# Further commands, one event each on the tickets they are applied to below.


def assign(ticket: Ticket, rng: random.Random) -> None:
    ticket.assign(rng.choice(AGENTS).id, rng.choice(AGENTS))


def agent_reply(ticket: Ticket, rng: random.Random) -> None:
    author = rng.choice(AGENTS)
    ticket.add_message("Estamos revisando su caso.", "agent", author.id, "public", None, author)


def internal_note(ticket: Ticket, rng: random.Random) -> None:
    author = rng.choice(AGENTS)
    ticket.add_message("Escalar a N2 si persiste.", "agent", author.id, "internal", None, author)


def customer_reply(ticket: Ticket, rng: random.Random) -> None:
    ticket.add_message("Sigue igual, gracias.", "customer", None, "public", None, INTEGRATOR)


def change_priority(ticket: Ticket, rng: random.Random) -> None:
    choices = [p for p in PRIORITY_WEIGHTS if p != ticket.priority]
    ticket.change_priority(rng.choice(choices), rng.choice(AGENTS))


def change_tags(ticket: Ticket, rng: random.Random) -> None:
    add = [t for t in rng.sample(TAGS, 2) if t not in ticket.tags][:1] or ["seguimiento"]
    remove = ticket.tags[:1]
    ticket.change_tags(add, remove, rng.choice(AGENTS))


def change_category(ticket: Ticket, rng: random.Random) -> None:
    choices = [c for c in CATEGORIES if c is not None and c != ticket.category]
    ticket.change_category(rng.choice(choices), rng.choice(AGENTS))


def set_pending(ticket: Ticket, rng: random.Random) -> None:
    ticket.change_status("pending", rng.choice(AGENTS))


def set_on_hold(ticket: Ticket, rng: random.Random) -> None:
    ticket.change_status("on_hold", rng.choice(AGENTS))


def resolve(ticket: Ticket, rng: random.Random) -> None:
    ticket.resolve("Reiniciamos el equipo.", rng.choice(AGENTS))


def close(ticket: Ticket, rng: random.Random) -> None:
    ticket.close(rng.choice(AGENTS))


# A ticket's life after it is opened: four commands, one event each, so the log holds
# five events per ticket. Weighted so most tickets are still in the queue, some were
# resolved (their row stays, hidden) and some closed (their row is deleted).
HISTORY_SCRIPTS: list[tuple[int, tuple[Command, ...]]] = [
    (30, (assign, agent_reply, customer_reply, change_priority)),  # open, being worked
    (20, (assign, agent_reply, change_tags, resolve)),  # resolved
    (15, (assign, internal_note, resolve, close)),  # closed
    (20, (assign, agent_reply, set_pending, change_category)),  # waiting on the customer
    (15, (customer_reply, change_tags, change_priority, customer_reply)),  # new, unanswered
]
EVENTS_PER_HISTORY_TICKET = 5

# Tickets that stay active (new, open, pending, on hold), for the queue read benchmark.
OPEN_SCRIPTS: list[tuple[int, tuple[Command, ...]]] = [
    (35, ()),  # new
    (10, (customer_reply,)),  # new, the customer wrote again
    (25, (assign, agent_reply)),  # open
    (15, (assign, set_pending)),  # pending
    (5, (assign, set_on_hold)),  # on hold
    (10, (assign, change_tags, change_priority)),  # open, re-triaged
]


@dataclass
class Seeded:
    tickets: int = 0
    events: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def in_view(self) -> int:
        """Rows the queue view keeps (every ticket but the closed ones)."""
        return sum(n for status, n in self.statuses.items() if status != "closed")


class Seeder:
    def __init__(self, atende: Atende, rng_seed: int = 20240601):
        self.atende = atende
        self.rng = random.Random(rng_seed)
        self.namespace = atende.tickets.customer_namespace

    def new_ticket(self, number: int) -> Ticket:
        rng = self.rng
        customer = rng.randrange(CUSTOMERS)
        contact = Contact(name=f"Cliente {customer}", email=f"cliente{customer}@example.com")
        owner = contact.customer_id(self.namespace)
        subject = f"{rng.choice(SUBJECTS)} (#{number})"
        return Ticket(
            subject=Personal(owner, subject),
            description=Personal(owner, "El módem parpadea en rojo desde la tormenta."),
            requester=contact.as_personal(owner),
            customer_id=owner,
            channel=rng.choice(CHANNELS),
            language=rng.choice(LANGUAGES),
            priority=rng.choices(list(PRIORITY_WEIGHTS), weights=PRIORITY_WEIGHTS.values())[0],
            category=rng.choice(CATEGORIES),
            tags=rng.sample(TAGS, rng.randrange(3)),
            external_ref=None,
            actor=INTEGRATOR,
        )

    def seed(
        self,
        tickets: int,
        scripts: list[tuple[int, tuple[Command, ...]]],
        *,
        chunk: int = CHUNK,
        label: str = "seed",
        stream: TextIO | None = None,
    ) -> Seeded:
        stream = stream or sys.stdout
        weights = [w for w, _ in scripts]
        result = Seeded()
        started = last_report = time.perf_counter()
        for first in range(0, tickets, chunk):
            count = min(chunk, tickets - first)
            batch = [self.new_ticket(first + n) for n in range(count)]
            plans = [self.rng.choices(scripts, weights=weights)[0][1] for _ in batch]
            result.events += self._save(batch)
            for step in range(max((len(plan) for plan in plans), default=0)):
                moved = []
                for ticket, plan in zip(batch, plans, strict=True):
                    if step < len(plan):
                        plan[step](ticket, self.rng)
                        moved.append(ticket)
                result.events += self._save(moved)
            result.tickets += count
            result.statuses.update(ticket.status for ticket in batch)
            now = time.perf_counter()
            if now - last_report >= 10:
                last_report = now
                rate = result.events / (now - started)
                stream.write(
                    f"  {label}: {result.tickets:,} tickets, {result.events:,} events, "
                    f"{rate:,.0f} events/s\n"
                )
                stream.flush()
        result.seconds = time.perf_counter() - started
        return result

    def _save(self, tickets: list[Ticket]) -> int:
        if not tickets:
            return 0
        return len(self.atende.tickets.save(*tickets))


def seed_history(atende: Atende, events: int, **kwargs) -> Seeded:
    """At least ``events`` events: tickets opened and then worked, resolved or closed."""
    tickets = -(-events // EVENTS_PER_HISTORY_TICKET)
    return Seeder(atende).seed(tickets, HISTORY_SCRIPTS, label="history", **kwargs)


def seed_open_tickets(atende: Atende, tickets: int, **kwargs) -> Seeded:
    """``tickets`` active tickets (new, open, pending, on hold), all shown by the queue."""
    return Seeder(atende).seed(tickets, OPEN_SCRIPTS, label="open tickets", **kwargs)


def catch_up_queue(atende: Atende) -> int:
    """Bring the live queue view to the head of the log; return its position."""
    follower = ViewFollower(
        atende.tickets, VIEWS["queue"].projection(view=atende.views["queue"]), REBUILD_BATCH_SIZE
    )
    follower.catch_up()
    return follower.position()
