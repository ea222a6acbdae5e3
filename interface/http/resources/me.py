"""``GET /v1/me``: who the token is; for an agent-bound token also its agent, the agent's
load and the tickets it holds (issue 20)."""

from __future__ import annotations

import falcon

from application.agents import AgentDirectory
from application.ports import LogHead
from domain.actor import ROLES
from interface.http.consistency import wait_if_asked
from interface.http.middleware.auth import allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.resources.agents import agent_document
from interface.http.schemas.me import MeOut, MeQueryIn
from projections.routing import RoutingView

_QUERY = MeQueryIn()


class Me:
    def __init__(self, *, agents: AgentDirectory, routing: RoutingView, log: LogHead):
        self.agents = agents
        self.routing = routing  # where the agent's load and open tickets come from
        self.log = log

    @falcon.before(allow(*ROLES))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        wait_if_asked(self.log, self.routing, _QUERY.load(req.params))
        actor = req.context.actor
        agent = None
        if actor.agent_id is not None:
            found = self.agents.get(actor.agent_id)
            held = sorted(self.agents.held_by(actor.agent_id))
            # The load and open tickets come from the routing view (eventually consistent).
            agent = {
                **agent_document(found, self.agents.position_of(found)),
                "load": len(held),
                "open_tickets": held,
            }
        resp.media = {
            "id": actor.id,
            "name": actor.name,
            "role": actor.role,
            "agent_id": actor.agent_id,
            "agent": agent,
        }


OPERATIONS: Operations = {
    ("/v1/me", "get"): Operation(
        "Who this token is; an agent-bound token's agent, load and open tickets",
        "tokens",
        ROLES,
        MeOut,
        query=MeQueryIn,
        errors=(404,),
    ),
}


def add_me_routes(
    app: falcon.App, *, agents: AgentDirectory, routing: RoutingView, log: LogHead
) -> None:
    app.add_route("/v1/me", Me(agents=agents, routing=routing, log=log))
