"""Agent routes: register and list, read one, and one resource per change
(availability, languages, skills, capacity, deactivate, reactivate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import falcon

from application.agents import AgentDirectory
from application.ports import AnswersRetries, LoadsAggregates, LogHead
from domain.actor import Actor, NotYourOwn
from domain.agent import Agent
from interface.http.consistency import wait_for_position
from interface.http.hooks import validate_body
from interface.http.idempotency import idempotent
from interface.http.middleware.auth import AGENT_ADMINS, AGENT_READERS, AVAILABILITY_SETTERS, allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.schemas.agents import (
    AgentIn,
    AgentListOut,
    AgentOut,
    AgentsQueryIn,
    AvailabilityIn,
    CapacityIn,
    LanguagesIn,
    SkillsIn,
)
from interface.http.schemas.common import EmptyIn
from projections.routing import RoutingView

_AGENT_OUT = AgentOut()
_AGENTS_OUT = AgentOut(many=True, exclude=("version", "position"))
_QUERY = AgentsQueryIn()

AgentCommand = Callable[[Agent, dict[str, Any], Actor], None]


def agent_document(agent: Agent, position: int) -> dict[str, Any]:
    return _AGENT_OUT.dump(
        {**vars(agent), "id": str(agent.id), "version": agent.version, "position": position}
    )


def render_agent(resp: falcon.Response, agent: Agent, position: int, status: int = 200) -> None:
    resp.status = status
    resp.media = agent_document(agent, position)
    resp.etag = str(agent.version)
    if status == 201:
        resp.location = f"/v1/agents/{agent.id}"


def replay_agent(resource: Any, req: Any, resp: falcon.Response, previous: Any, position: int,
                 **params: Any) -> None:  # fmt: skip
    """An agent command's first answer again: the agent at the version it wrote."""
    agent = resource.aggregates.repository.get(previous.resource_id, version=previous.version)
    render_agent(resp, agent, position, status=previous.status)


class AgentCollection:
    schema = AgentIn()

    def __init__(
        self,
        *,
        agents: AgentDirectory,
        routing: RoutingView,
        log: LogHead,
        retries: AnswersRetries,
        aggregates: LoadsAggregates,
    ):
        self.agents = agents
        self.routing = routing  # the list, with each agent's load
        self.log = log
        self.retries = retries
        self.aggregates = aggregates  # replay_agent

    @falcon.before(allow(*AGENT_ADMINS))
    @falcon.before(validate_body)
    @idempotent(replay=replay_agent)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        agent, position = self.agents.register(
            actor=req.context.actor, idempotency=req.context.claim, **req.context.body
        )
        render_agent(resp, agent, position, status=201)

    @falcon.before(allow(*AGENT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Every agent with their current load, from the routing view (eventually
        consistent: pass ``after_position`` to wait for a change you made)."""
        query = _QUERY.load(req.params)
        view = self.routing
        if "after_position" in query:
            wait_for_position(self.log, view, query.pop("after_position"))
        resp.media = {"items": _AGENTS_OUT.dump(view.directory(query))}


class AgentItem:
    def __init__(self, *, agents: AgentDirectory):
        self.agents = agents

    @falcon.before(allow(*AGENT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response, agent_id: UUID) -> None:
        agents = self.agents
        agent = agents.get(agent_id)
        render_agent(resp, agent, agents.position_of(agent))


class AgentChange:
    """``POST /v1/agents/{id}/<name>``: validate, apply one change, save."""

    def __init__(
        self,
        *,
        agents: AgentDirectory,
        routing: RoutingView,
        log: LogHead,
        retries: AnswersRetries,
        aggregates: LoadsAggregates,
        schema: type,
        command: AgentCommand,
        roles: tuple,
    ):
        self.agents = agents
        self.routing = routing  # deactivate waits for it
        self.log = log
        self.retries = retries
        self.aggregates = aggregates  # replay_agent
        self.schema = schema()
        self.command = command
        self.allowed = allow(*roles)  # agents set their own availability; admins the rest
        self.hands_back = False  # deactivate: the agent's tickets go back to the queue

    @falcon.before(lambda req, resp, resource, params: resource.allowed(req, resp, None, None))
    @falcon.before(validate_body)
    @idempotent(replay=replay_agent)
    def on_post(self, req: falcon.Request, resp: falcon.Response, agent_id: UUID) -> None:
        body, actor = req.context.body, req.context.actor
        if self.hands_back:
            # The command reads the tickets to hand back from the routing view: let it see
            # every assignment already made (503 when it cannot, as an erasure does).
            wait_for_position(self.log, self.routing, self.log.head_position())
        agent, position = self.agents.change(
            agent_id, lambda agent: self.command(agent, body, actor), req.context.claim
        )
        render_agent(resp, agent, position)


def set_availability(agent: Agent, body: dict[str, Any], actor: Actor) -> None:
    # An agent-bound token sets only its own agent's (issue 20); supervisors, admins and
    # integrators anyone's.
    if actor.role == "agent" and actor.speaks_for_another_agent(agent.id):
        raise NotYourOwn(f"this token acts as agent {actor.agent_id}; it may set only its own")
    agent.set_availability(body["availability"], actor)


CHANGES: dict[str, tuple[type, AgentCommand, tuple]] = {
    "availability": (AvailabilityIn, set_availability, AVAILABILITY_SETTERS),
    "languages": (LanguagesIn, lambda g, b, a: g.set_languages(b["languages"], a), AGENT_ADMINS),
    "skills": (
        SkillsIn,
        lambda g, b, a: g.set_skills(b["skills"], b.get("generalist", g.generalist), a),
        AGENT_ADMINS,
    ),
    "capacity": (CapacityIn, lambda g, b, a: g.set_capacity(b["capacity"], a), AGENT_ADMINS),
    "deactivate": (EmptyIn, lambda g, b, a: g.deactivate(a), AGENT_ADMINS),
    "reactivate": (EmptyIn, lambda g, b, a: g.reactivate(a), AGENT_ADMINS),
}


AGENT = "/v1/agents/{agent_id:uuid}"


def _change_operation(name: str, schema: type, roles: tuple[str, ...]) -> Operation:
    return Operation(
        f"Agent change: {name}",
        "agents",
        roles,
        AgentOut,
        body=schema,
        errors=(404, 409),
        idempotent=True,
        etag=True,
    )


OPERATIONS: Operations = {
    ("/v1/agents", "post"): Operation(
        "Register an agent",
        "agents",
        AGENT_ADMINS,
        AgentOut,
        statuses=(201,),
        body=AgentIn,
        errors=(409,),
        idempotent=True,
        etag=True,
    ),
    ("/v1/agents", "get"): Operation(
        "Every agent with their current load (from the routing view)",
        "agents",
        AGENT_READERS,
        AgentListOut,
        query=AgentsQueryIn,
    ),
    (AGENT, "get"): Operation(
        "Read an agent",
        "agents",
        AGENT_READERS,
        AgentOut,
        errors=(404,),
        etag=True,
    ),
    **{
        (f"{AGENT}/{name}", "post"): _change_operation(name, schema, roles)
        for name, (schema, _, roles) in CHANGES.items()
    },
}


def add_agent_routes(
    app: falcon.App,
    *,
    agents: AgentDirectory,
    routing: RoutingView,
    log: LogHead,
    retries: AnswersRetries,
    aggregates: LoadsAggregates,
) -> None:
    app.add_route(
        "/v1/agents",
        AgentCollection(
            agents=agents, routing=routing, log=log, retries=retries, aggregates=aggregates
        ),
    )
    app.add_route("/v1/agents/{agent_id:uuid}", AgentItem(agents=agents))
    for name, (schema, command, roles) in CHANGES.items():
        change = AgentChange(
            agents=agents,
            routing=routing,
            log=log,
            retries=retries,
            aggregates=aggregates,
            schema=schema,
            command=command,
            roles=roles,
        )
        change.hands_back = name == "deactivate"
        app.add_route(f"/v1/agents/{{agent_id:uuid}}/{name}", change)
