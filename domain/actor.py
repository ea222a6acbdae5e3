"""Who did something: the principal behind a request, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# supervisor (issue 20): between agent and admin. Manages agents, reassigns, sees every
# queue and report; never calendars, policies, tokens or erasure.
ROLES = ("admin", "supervisor", "agent", "integrator", "auditor", "analyst")


@dataclass(frozen=True)
class Actor:
    """The principal recorded on every event (a token's id, name and role, and the agent
    an agent-bound token acts as)."""

    id: str
    name: str
    role: str
    agent_id: str | None = None
    # An integrator's grant to name an agent as a message's author (issue 20).
    on_behalf: bool = False

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.id, "name": self.name, "role": self.role}
        # Absent unless set: actors recorded before either existed read back the same.
        if self.agent_id is not None:
            found["agent_id"] = self.agent_id
        if self.on_behalf:
            found["on_behalf"] = True
        return found

    def speaks_for_another_agent(self, agent_id: object) -> bool:
        """Whether this is an agent-bound token naming an agent other than its own."""
        return self.agent_id is not None and str(agent_id).lower() != self.agent_id


class NotYourOwn(Exception):
    """An agent-bound token acting as, or on, another agent (issue 20): 403."""


SYSTEM = Actor(id="system", name="atende", role="system")
# The router's assignments: a system actor too, so they leave the ETag alone.
ROUTER = Actor(id="router", name="atende router", role="system")
