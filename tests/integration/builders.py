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
