"""Routing table tests: which agent gets a waiting ticket, one choice and a whole plan."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter

import pytest

from domain.routing import (
    AgentState,
    Assignment,
    WaitingTicket,
    choose_agent,
    knows,
    plan_assignments,
    primary_subtag,
    qualifies,
    speaks,
)


def agent(agent_id: str = "a", **overrides) -> AgentState:
    fields = {
        "agent_id": agent_id,
        "languages": ("en",),
        "skills": ("billing",),
        "generalist": False,
        "capacity": 5,
        "load": 0,
        **overrides,
    }
    return AgentState(**fields)


def ticket(ticket_id: str = "t", language: str | None = "en", category: str | None = "billing"):
    return WaitingTicket(ticket_id=ticket_id, language=language, category=category)


def tickets(count: int, **fields) -> list[WaitingTicket]:
    return [ticket(f"t{n:05d}", **fields) for n in range(count)]


def chosen(ticket_: WaitingTicket, agents: list[AgentState]) -> str | None:
    assignment = choose_agent(ticket_, agents)
    return assignment.agent_id if assignment else None


def naive_plan(waiting, agents, clock_start=0) -> list[Assignment]:
    """The plan spelled out with choose_agent, as the reference for the fast one."""
    agents = list(agents)
    clock = max([clock_start, *(a.last_assigned for a in agents)])
    plan = []
    for waiting_ticket in waiting:
        assignment = choose_agent(waiting_ticket, agents)
        if assignment is None:
            continue
        plan.append(assignment)
        clock += 1
        agents = [
            dataclasses.replace(a, load=a.load + 1, last_assigned=clock)
            if a.agent_id == assignment.agent_id
            else a
            for a in agents
        ]
    return plan


# --- language ---------------------------------------------------------------------------------


def test_language_match_beats_load():
    busy_speaker = agent("busy", languages=("es",), load=4)
    idle_stranger = agent("idle", languages=("en",), load=0)
    assert chosen(ticket(language="es"), [idle_stranger, busy_speaker]) == "busy"


@pytest.mark.parametrize(
    ("ticket_language", "agent_languages", "served"),
    [
        ("pt-BR", ("pt",), True),
        ("pt", ("pt-BR",), True),
        ("pt-PT", ("pt-BR",), True),
        ("PT-br", ("pT",), True),
        ("pt_BR", ("pt",), True),
        (" en-US ", ("EN-gb",), True),
        ("pt-BR", ("es", "en"), False),
        ("es", ("es-419", "en"), True),
        ("en", ("",), False),
        (None, ("ja",), True),
        ("", ("ja",), True),
    ],
)
def test_languages_match_on_the_primary_subtag_in_both_directions(
    ticket_language, agent_languages, served
):
    candidate = agent(languages=agent_languages)
    assert speaks(candidate, ticket_language) is served
    assert (chosen(ticket(language=ticket_language), [candidate]) == "a") is served


@pytest.mark.parametrize(
    ("tag", "primary"), [("pt-BR", "pt"), ("PT", "pt"), ("zh-Hant-TW", "zh"), (" en_US ", "en")]
)
def test_primary_subtag_is_the_lower_cased_first_subtag(tag, primary):
    assert primary_subtag(tag) == primary


def test_ticket_without_language_may_go_to_any_agent_and_records_no_language_match():
    assignment = choose_agent(ticket(language=None), [agent(languages=("ko",))])
    assert assignment is not None
    assert assignment.reason["language"] is None
    assert assignment.reason["agent_languages"] == []


# --- skills -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "skills", "generalist", "served"),
    [
        ("billing", ("billing",), False, True),
        (" Billing ", ("BILLING ",), False, True),
        ("billing", ("shipping",), False, False),
        ("billing", (), False, False),
        ("billing", ("shipping",), True, True),
        ("billing", (), True, True),
        (None, (), False, True),
        (None, ("shipping",), False, True),
        ("", ("shipping",), False, True),
    ],
)
def test_skill_is_required_only_when_the_ticket_has_a_category(
    category, skills, generalist, served
):
    candidate = agent(skills=skills, generalist=generalist)
    assert knows(candidate, category) is served
    assert qualifies(candidate, ticket(category=category)) is served


def test_specialist_without_the_skill_is_refused_even_when_idle():
    loaded_specialist = agent("spec", skills=("returns",), load=4)
    idle_other = agent("other", skills=("billing",), load=0)
    assert chosen(ticket(category="returns"), [idle_other, loaded_specialist]) == "spec"
    assert chosen(ticket(category="warranty"), [idle_other, loaded_specialist]) is None


def test_generalist_is_accepted_for_any_category():
    assert chosen(ticket(category="warranty"), [agent("gen", skills=(), generalist=True)]) == "gen"


def test_uncategorized_ticket_goes_to_any_speaker():
    agents = [agent("x", languages=("fr",), skills=()), agent("y", languages=("de",), load=0)]
    assert chosen(ticket(language="fr", category=None), agents) == "x"


# --- who is on duty ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "off_duty",
    [
        {"availability": "away"},
        {"availability": "offline"},
        {"active": False},
        {"load": 5, "capacity": 5},
        {"load": 7, "capacity": 5},
        {"load": 0, "capacity": 0},
    ],
)
def test_agents_away_offline_deactivated_or_full_are_never_chosen(off_duty):
    unavailable = agent("best", **off_duty)
    assert not qualifies(unavailable, ticket())
    assert chosen(ticket(), [unavailable]) is None
    assert plan_assignments(tickets(3), [unavailable]) == []
    worse = agent("worse", load=4, last_assigned=99)
    assert chosen(ticket(), [unavailable, worse]) == "worse"


def test_an_unknown_availability_is_refused():
    with pytest.raises(ValueError, match="availability"):
        agent(availability="busy")


# --- capacity ---------------------------------------------------------------------------------


def test_plan_over_ten_tickets_with_two_agents_of_capacity_three_assigns_exactly_six():
    plan = plan_assignments(tickets(10), [agent("a", capacity=3), agent("b", capacity=3)])
    assert len(plan) == 6
    assert Counter(a.agent_id for a in plan) == {"a": 3, "b": 3}
    assert [a.ticket_id for a in plan] == [t.ticket_id for t in tickets(6)]


def test_no_backlog_dump_when_one_agent_comes_online():
    plan = plan_assignments(tickets(50), [agent("newcomer", capacity=5)])
    assert [a.agent_id for a in plan] == ["newcomer"] * 5


def test_plan_counts_existing_load_against_capacity():
    plan = plan_assignments(tickets(10), [agent("a", capacity=4, load=3)])
    assert len(plan) == 1


def test_tickets_nobody_can_take_are_skipped_and_the_rest_still_assigned():
    waiting = [
        ticket("t1", language="ja"),
        ticket("t2"),
        ticket("t3", category="legal"),
        ticket("t4"),
    ]
    plan = plan_assignments(waiting, [agent("a")])
    assert [a.ticket_id for a in plan] == ["t2", "t4"]


# --- ordering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agents", "winner"),
    [
        ([agent("a", load=2), agent("b", load=1), agent("c", load=3)], "b"),
        ([agent("a", load=1, last_assigned=9), agent("b", load=1, last_assigned=4)], "b"),
        ([agent("a", load=1, last_assigned=9), agent("b", load=1, last_assigned=0)], "b"),
        ([agent("b", load=1, last_assigned=4), agent("a", load=1, last_assigned=4)], "a"),
        ([agent("b"), agent("a"), agent("c")], "a"),
        ([agent("a", load=0, last_assigned=99), agent("b", load=1, last_assigned=0)], "a"),
    ],
    ids=[
        "least loaded",
        "then longest since last assignment",
        "never assigned counts as longest",
        "then agent_id",
        "agent_id among fresh agents",
        "load before recency",
    ],
)
def test_least_loaded_first_then_longest_since_last_assignment_then_agent_id(agents, winner):
    assert chosen(ticket(), agents) == winner


def test_same_inputs_give_the_same_plan_whatever_the_agent_order():
    rng = random.Random(7)
    agents = [
        agent(f"ag{n:02d}", load=rng.randint(0, 2), last_assigned=rng.choice([0, 5, 9]))
        for n in range(12)
    ]
    expected = plan_assignments(tickets(30), agents)
    for _ in range(5):
        rng.shuffle(agents)
        assert plan_assignments(tickets(30), agents) == expected
        assert choose_agent(ticket(), agents) == choose_agent(ticket(), sorted(agents, key=str))


def test_plan_makes_the_chosen_agent_the_most_recently_assigned():
    agents = [agent("a", last_assigned=500), agent("b", last_assigned=0), agent("c")]
    plan = plan_assignments(tickets(6), agents, clock_start=10)
    assert [a.agent_id for a in plan] == ["b", "c", "a", "b", "c", "a"]


# --- fairness ---------------------------------------------------------------------------------


def test_a_thousand_tickets_spread_within_one_over_seven_equal_agents():
    agents = [agent(f"ag{n}", capacity=1000) for n in range(7)]
    counts = Counter(a.agent_id for a in plan_assignments(tickets(1000), agents))
    assert len(counts) == 7
    assert max(counts.values()) - min(counts.values()) <= 1


def test_agents_starting_with_different_loads_end_within_one_of_each_other():
    agents = [
        agent("a", load=0, capacity=100),
        agent("b", load=2, capacity=100),
        agent("c", load=5, capacity=100),
        agent("d", load=9, capacity=100, last_assigned=3),
        agent("e", load=30, capacity=100),
    ]
    plan = plan_assignments(tickets(23), agents)
    received = Counter(a.agent_id for a in plan)
    final = {a.agent_id: a.load + received[a.agent_id] for a in agents if received[a.agent_id]}
    assert set(final) == {"a", "b", "c", "d"}
    assert max(final.values()) - min(final.values()) <= 1


# --- reason -----------------------------------------------------------------------------------


def test_reason_records_language_skill_load_capacity_and_candidates():
    agents = [
        agent("a", languages=("pt-BR", "en", "pt-PT"), skills=("Billing",), load=2, capacity=4),
        agent("b", languages=("pt",), load=3),
        agent("c", languages=("en",)),
        agent("d", languages=("pt",), availability="away"),
    ]
    assignment = choose_agent(ticket("t9", language="pt", category=" billing"), agents)
    assert assignment == Assignment(
        ticket_id="t9",
        agent_id="a",
        reason={
            "language": "pt",
            "agent_languages": ["pt-BR", "pt-PT"],
            "skill": "billing",
            "load": 2,
            "capacity": 4,
            "candidates": 2,
            "rule": "least loaded, then longest since last assignment",
        },
    )
    assert json.loads(json.dumps(assignment.reason)) == assignment.reason


@pytest.mark.parametrize(
    ("category", "skills", "generalist", "skill"),
    [
        ("billing", ("billing",), False, "billing"),
        ("billing", (), True, "generalist"),
        ("billing", ("billing",), True, "billing"),
        (None, ("billing",), False, None),
    ],
)
def test_reason_says_which_skill_or_generalist_qualified_the_agent(
    category, skills, generalist, skill
):
    candidate = agent(skills=skills, generalist=generalist)
    assignment = choose_agent(ticket(category=category), [candidate])
    assert assignment is not None
    assert assignment.reason["skill"] == skill


def test_plan_reasons_record_the_load_before_each_assignment_and_the_candidates_left():
    plan = plan_assignments(tickets(4), [agent("a", capacity=2), agent("b", capacity=3, load=1)])
    assert [(a.agent_id, a.reason["load"], a.reason["candidates"]) for a in plan] == [
        ("a", 0, 2),
        ("b", 1, 2),  # equal loads: b has waited longer (never assigned) than a
        ("a", 1, 2),  # a is now full and drops out of the candidates
        ("b", 2, 1),
    ]


# --- nobody qualified -------------------------------------------------------------------------


def test_no_qualified_agent_gives_none_and_an_empty_plan():
    agents = [agent(languages=("de",))]
    assert choose_agent(ticket(language="en"), agents) is None
    assert choose_agent(ticket(), []) is None
    assert plan_assignments(tickets(5, language="en"), agents) == []
    assert plan_assignments([], agents) == []
    assert plan_assignments(tickets(5), []) == []


# --- the fast plan is the simple plan ---------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_plan_makes_the_same_choices_as_repeated_choose_agent(seed):
    rng = random.Random(seed)
    languages = ["en", "en-GB", "pt", "pt-BR", "PT-pt", "es", "ja"]
    categories = ["billing", "Shipping", "returns", "legal", None]
    agents = [
        agent(
            f"ag{n:02d}",
            languages=tuple(rng.sample(languages, rng.randint(0, 3))),
            skills=tuple(rng.sample(categories[:4], rng.randint(0, 2))),
            generalist=rng.random() < 0.2,
            capacity=rng.randint(0, 6),
            load=rng.randint(0, 3),
            availability=rng.choice(["online", "online", "online", "away", "offline"]),
            active=rng.random() < 0.9,
            last_assigned=rng.choice([0, 0, 3, 8, 20]),
        )
        for n in range(25)
    ]
    waiting = [
        ticket(
            f"t{n:03d}",
            language=rng.choice([*languages, None, "fr"]),
            category=rng.choice([*categories, " billing ", "warranty"]),
        )
        for n in range(120)
    ]
    assert plan_assignments(waiting, agents, clock_start=5) == naive_plan(waiting, agents, 5)
