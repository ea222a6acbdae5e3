"""The router: a process that turns the routing view into assignments.

It runs in the projector after the routing view has caught up with the log, never in an
HTTP request. Each round reads the agents (with their loads) and, when any of them has
room, the tickets waiting in languages they speak; plans the assignments with the pure
rules of domain.routing; and records each as the ticket's Assigned event with its reason.
A ticket that someone assigned meanwhile is left alone (Ticket.route_to), so a round
made on a view a moment behind, or a replay, never assigns twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from application.ports import RoutesTickets
from domain.routing import Assignment, plan_assignments, primary_subtag
from projections.routing import RoutingView

log = logging.getLogger("atende.router")


@dataclass
class Router:
    app: RoutesTickets
    view: RoutingView

    def route(self) -> list[Assignment]:
        """One round: assign what can be assigned now; return what was recorded."""
        agents = self.view.agents()
        ready = [a for a in agents if a.active and a.availability == "online"]
        ready = [a for a in ready if a.load < a.capacity]
        if not ready:
            return []
        languages = sorted({primary_subtag(tag) for a in ready for tag in a.languages})
        waiting = self.view.waiting(languages)
        if not waiting:
            return []
        made = []
        for assignment in plan_assignments(waiting, agents):
            if self.app.route(UUID(assignment.ticket_id), assignment.agent_id, assignment.reason):
                made.append(assignment)
        if made:
            log.info("routed %d tickets", len(made))
        return made
