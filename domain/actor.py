"""Who did something: the principal behind a request, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass

# supervisor (issue 20): between agent and admin. Manages agents, reassigns, sees every
# queue and report; never calendars, policies, tokens or erasure.
ROLES = ("admin", "supervisor", "agent", "integrator", "auditor", "analyst")


@dataclass(frozen=True)
class Actor:
    """The principal recorded on every event (a token's id, name and role)."""

    id: str
    name: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "role": self.role}


SYSTEM = Actor(id="system", name="atende", role="system")
# The router's assignments: a system actor too, so they leave the ETag alone.
ROUTER = Actor(id="router", name="atende router", role="system")
