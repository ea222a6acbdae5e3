"""Small builders for integration tests."""

from __future__ import annotations

from typing import Any

from application.tickets import CommandResult
from domain.actor import Actor
from domain.customer import Contact
from interface.container import Atende

AGENT = Actor(id="agent-token", name="maria", role="agent")
INTEGRATOR = Actor(id="crm-token", name="crm", role="integrator")


def open_ticket(atende: Atende, **overrides: Any) -> CommandResult:
    fields: dict[str, Any] = {
        "subject": "Sin internet",
        "description": "El módem parpadea",
        "contact": Contact(name="Ana Souza", email="ana@example.com"),
        "channel": "email",
        "actor": INTEGRATOR,
    }
    fields.update(overrides)
    return atende.tickets.open_ticket(**fields)


def agent_token(atende: Atende, name: str) -> str:
    """A token for a newly registered agent (every new agent token is bound to one)."""
    agent, _ = atende.tickets.agents.register(
        name=name, email=f"{name}@example.com", languages=["es"], skills=[], generalist=True,
        capacity=5, actor=INTEGRATOR,
    )  # fmt: skip
    return atende.tokens.create("agent", name, agent_id=str(agent.id)).token
