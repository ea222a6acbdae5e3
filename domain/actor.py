"""Who did something: the principal behind a request, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "agent", "integrator", "auditor", "analyst")


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
