"""The candidate index a routing plan looks agents up in: who could take which ticket."""

from __future__ import annotations

from domain.routing import AgentState, CandidateIndex, WaitingTicket


def agent(agent_id: str, languages=("en",), skills=(), **overrides) -> AgentState:
    fields = {"generalist": False, "capacity": 2, "load": 0, **overrides}
    return AgentState(agent_id, tuple(languages), tuple(skills), **fields)


def ids(index: CandidateIndex, language: str | None, category: str | None) -> list[str]:
    return [index.roster[i].agent_id for i in index.candidates(language, category)]


def test_only_available_agents_are_indexed_and_their_spare_capacity_counted():
    index = CandidateIndex(
        [
            agent("free", load=1),
            agent("full", load=2),
            agent("away", availability="away"),
            agent("gone", active=False),
        ]
    )
    assert [a.agent_id for a in index.roster] == ["free"]
    assert index.spare == 1


def test_agents_are_found_by_primary_language_and_by_skill_or_as_generalists():
    index = CandidateIndex(
        [
            agent("br", ["pt-BR"], ["Billing "]),
            agent("en", ["en"], ["billing"]),
            agent("all", ["pt"], ["billing"], generalist=True),
            agent("blank", [" "]),
        ]
    )
    assert ids(index, "pt", None) == ["br", "all"]
    assert ids(index, "pt", "billing") == ["br", "all"]  # the generalist with the skill: once
    assert ids(index, "pt", "network") == ["all"]
    assert ids(index, None, None) == ["br", "en", "all", "blank"]  # no language: anyone
    assert ids(index, None, "billing") == ["br", "en", "all"]
    assert ids(index, "gn", None) == []


def test_tickets_with_the_same_candidates_share_one_pool_and_a_charge_fills_it():
    index = CandidateIndex([agent("a", ["es"], ["x"], generalist=True, capacity=1)])
    pool = index.pool_for(WaitingTicket("t1", "es-AR", "x"))
    assert index.pool_for(WaitingTicket("t2", "ES", None)) is pool
    assert pool.best(index) == 0 and pool.live == 1
    index.charge(0, clock=7)
    pool.refile_best(index)
    assert (index.loads[0], index.lasts[0], index.spare, pool.live) == (1, 7, 0, 0)
    assert pool.best(index) is None
