"""The principal recorded on events: an agent-bound token's actor names its agent, and an
actor without one is written exactly as before agent binding existed (issue 20)."""

from __future__ import annotations

from application.transcodings import ActorAsDict
from domain.actor import Actor


def test_an_actor_without_an_agent_is_written_as_before_agent_binding():
    actor = Actor(id="t-1", name="crm", role="integrator")
    assert ActorAsDict().encode(actor) == {"id": "t-1", "name": "crm", "role": "integrator"}


def test_an_actor_recorded_before_agent_binding_reads_back_unbound():
    assert ActorAsDict().decode({"id": "t-1", "name": "crm", "role": "integrator"}) == Actor(
        id="t-1", name="crm", role="integrator"
    )


def test_an_agent_bound_actor_round_trips_with_its_agent():
    actor = Actor(id="t-2", name="maria", role="agent", agent_id="a-1")
    assert ActorAsDict().decode(ActorAsDict().encode(actor)) == actor


def test_only_a_bound_actor_speaks_for_another_agent():
    bound = Actor(
        id="t-2", name="maria", role="agent", agent_id="5f0c2b1e-1111-4c4c-8888-0000000000aa"
    )
    assert bound.speaks_for_another_agent("5f0c2b1e-1111-4c4c-8888-0000000000bb")
    assert not bound.speaks_for_another_agent("5F0C2B1E-1111-4C4C-8888-0000000000AA")
    assert not Actor(id="t-1", name="x", role="agent").speaks_for_another_agent("anyone")
