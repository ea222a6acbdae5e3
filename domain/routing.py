"""Routing: which agent gets a waiting ticket (a pure choice, no I/O).

A ticket goes to the best qualified agent. An agent qualifies when they are:
- online (not "away" or "offline") and active (not deactivated);
- under capacity: load < capacity, so capacity 0 means "takes no tickets";
- speaking the ticket's language, matched on the primary subtag, case-insensitively: "pt" serves
  "pt-BR", and "pt-BR" serves "pt" and "pt-PT". A ticket without a language (None or blank)
  may go to any agent;
- able to handle the ticket's category: the category is one of their skills (case-insensitive,
  surrounding spaces ignored) or they are a generalist. A ticket without a category needs no skill.

Among qualified agents the least loaded wins, then the one longest since their last assignment
(never assigned counts as longest: last_assigned 0), then the smallest agent_id, so the same
inputs always give the same choice whatever the order of the agents.

plan_assignments() routes a whole queue in the order given (most urgent first), charging each
choice to a working copy of the agents' loads and assignment clock, so one plan never exceeds a
capacity and spreads equal agents round-robin. Tickets nobody qualifies for are skipped and keep
waiting. Every Assignment carries a JSON-able reason for auditors.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

AVAILABILITIES = ("online", "away", "offline")
RULE = "least loaded, then longest since last assignment"


@dataclass(frozen=True)
class AgentState:
    """An agent as routing sees them at one moment."""

    agent_id: str
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    generalist: bool
    capacity: int
    load: int  # active tickets assigned now
    availability: str = "online"  # one of AVAILABILITIES
    active: bool = True
    last_assigned: int = 0  # global position of the agent's last assignment; 0 = never

    def __post_init__(self) -> None:
        # A misspelt availability would silently make the agent unroutable; fail loudly instead.
        if self.availability not in AVAILABILITIES:
            raise ValueError(f"availability must be one of {AVAILABILITIES}: {self.availability!r}")


@dataclass(frozen=True)
class WaitingTicket:
    ticket_id: str
    language: str | None
    category: str | None


@dataclass(frozen=True)
class Assignment:
    ticket_id: str
    agent_id: str
    reason: dict  # JSON-able, for auditors; see _reason()


def primary_subtag(tag: str) -> str:
    """The primary language subtag, lower-cased: "pt-BR" -> "pt", " EN_us " -> "en"."""
    # "_" shows up in locale strings coming from integrations (pt_BR); treat it like "-".
    return tag.strip().replace("_", "-").split("-", 1)[0].lower()


def _language_key(language: str | None) -> str | None:
    """The ticket language as routing compares it; None when the ticket has none (or blank)."""
    if language is None:
        return None
    return primary_subtag(language) or None


def _category_key(category: str | None) -> str | None:
    """The category as routing compares it; None when the ticket has none (or blank)."""
    if category is None:
        return None
    return category.strip().casefold() or None


def _agent_languages(agent: AgentState) -> set[str]:
    # Blank entries would otherwise match nothing useful or, worse, a blank ticket language.
    return {p for p in map(primary_subtag, agent.languages) if p}


def _agent_skills(agent: AgentState) -> set[str]:
    return {s for s in (skill.strip().casefold() for skill in agent.skills) if s}


def speaks(agent: AgentState, language: str | None) -> bool:
    """True when the agent can take a ticket in this language (any language when None)."""
    key = _language_key(language)
    return key is None or key in _agent_languages(agent)


def knows(agent: AgentState, category: str | None) -> bool:
    """True when the agent can take a ticket of this category (any agent when None)."""
    key = _category_key(category)
    return key is None or agent.generalist or key in _agent_skills(agent)


def _available(agent: AgentState) -> bool:
    return agent.availability == "online" and agent.active and agent.load < agent.capacity


def qualifies(agent: AgentState, ticket: WaitingTicket) -> bool:
    """Every filter: online, active, under capacity, speaks the language, knows the category."""
    return _available(agent) and speaks(agent, ticket.language) and knows(agent, ticket.category)


def _rank(agent: AgentState) -> tuple[int, int, str]:
    # Smaller is better: fewer tickets, then longer ago (0 = never), then agent_id for determinism.
    return (agent.load, agent.last_assigned, agent.agent_id)


def _tags_by_language(agent: AgentState) -> dict[str, list[str]]:
    """The agent's language tags, as written, under their primary subtag."""
    tags: dict[str, list[str]] = {}
    for tag in agent.languages:
        if primary := primary_subtag(tag):
            tags.setdefault(primary, []).append(tag)
    return tags


def _reason(
    ticket: WaitingTicket,
    agent: AgentState,
    load: int,
    candidates: int,
    *,
    skills: set[str],
    tags: dict[str, list[str]],
) -> dict:
    # skills and tags come in precomputed (_agent_skills, _tags_by_language): a plan writes
    # thousands of reasons and should not re-parse the same agent for each one.
    language = _language_key(ticket.language)
    category = _category_key(ticket.category)
    if category is None:
        skill = None
    elif category in skills:
        # A named skill is the more specific justification, even for a generalist.
        skill = (ticket.category or "").strip()
    else:
        skill = "generalist"
    return {
        "language": ticket.language if language is not None else None,
        # Which of the agent's languages matched; none can match a ticket without a language.
        "agent_languages": list(tags.get(language, ())) if language is not None else [],
        "skill": skill,
        "load": load,
        "capacity": agent.capacity,
        "candidates": candidates,
        "rule": RULE,
    }


def choose_agent(ticket: WaitingTicket, agents: Iterable[AgentState]) -> Assignment | None:
    """The best qualified agent for the ticket, or None when nobody qualifies."""
    qualified = [agent for agent in agents if qualifies(agent, ticket)]
    if not qualified:
        return None
    best = min(qualified, key=_rank)
    return Assignment(
        ticket.ticket_id,
        best.agent_id,
        _reason(
            ticket,
            best,
            best.load,
            len(qualified),
            skills=_agent_skills(best),
            tags=_tags_by_language(best),
        ),
    )


class _Pool:
    """The agents who could take one kind of ticket, as a min-heap of rank entries."""

    __slots__ = ("heap", "live")

    def __init__(self, heap: list[tuple[int, int, str, int]]) -> None:
        self.heap = heap  # (load, last_assigned, agent_id, roster index); may hold stale entries
        self.live = len(heap)  # agents in the heap still under capacity: the candidates


def plan_assignments(
    waiting: Iterable[WaitingTicket], agents: Iterable[AgentState], *, clock_start: int = 0
) -> list[Assignment]:
    """Assign the waiting tickets in the order given; the same choices as repeated choose_agent.

    Each choice adds 1 to the agent's working load and stamps them with the next clock value,
    so they become the most recently assigned. Assignments come back in the order made.

    Speed: agents are indexed by (primary language, skill), with None standing for "any
    language", so a ticket only looks at agents who could take it. Each distinct candidate set
    gets a min-heap, built the first time a ticket needs it and shared by every (language,
    category) with the same candidates. An agent can sit in several heaps, but an assignment
    only updates the heap it came from; the other heaps keep an older, smaller rank for them.
    Ranks only grow (load +1, clock later), so a stale entry surfaces no later than it should
    and is re-filed with the current rank when it reaches the top. The plan stops as soon as
    no agent has spare capacity left.
    """
    everyone = list(agents)
    # The plan's clock starts above every stamp already given, so a chosen agent always
    # becomes the most recently assigned, whoever else is in the list.
    clock = max([clock_start, *(agent.last_assigned for agent in everyone)])
    roster = [agent for agent in everyone if _available(agent)]
    loads = [agent.load for agent in roster]
    lasts = [agent.last_assigned for agent in roster]
    spare = sum(agent.capacity - agent.load for agent in roster)

    # Language None = a ticket without a language: every agent is indexed under it as well.
    speakers: defaultdict[str | None, list[int]] = defaultdict(list)
    generalists: defaultdict[str | None, list[int]] = defaultdict(list)
    skilled: defaultdict[tuple[str | None, str], list[int]] = defaultdict(list)
    skills_of = [_agent_skills(agent) for agent in roster]
    tags_of = [_tags_by_language(agent) for agent in roster]
    for i, agent in enumerate(roster):
        skills = skills_of[i]
        for language in (*tags_of[i], None):
            speakers[language].append(i)
            if agent.generalist:
                generalists[language].append(i)
            for skill in skills:
                skilled[(language, skill)].append(i)

    # One pool per distinct candidate set, shared by every (language, category) that has it:
    # with generalists or agents who all speak the same languages, many keys share one set,
    # and a shared heap has no stale entries to re-file.
    pools: dict[tuple[int, ...], _Pool] = {}
    pool_of: dict[tuple[str | None, str | None], _Pool] = {}
    member_of: list[list[_Pool]] = [[] for _ in roster]

    def pool_for(key: tuple[str | None, str | None]) -> _Pool:
        pool = pool_of.get(key)
        if pool is None:
            language, category = key
            if category is None:
                indices = speakers.get(language, [])
            else:
                # A generalist who also lists the skill is one candidate, not two.
                indices = sorted(
                    {*generalists.get(language, ()), *skilled.get((language, category), ())}
                )
            pool = pools.get(members := tuple(indices))
            if pool is None:
                # Built from the working copy: agents filled earlier in this plan stay out.
                heap = [
                    (loads[i], lasts[i], roster[i].agent_id, i)
                    for i in members
                    if loads[i] < roster[i].capacity
                ]
                heapq.heapify(heap)
                pool = pools[members] = _Pool(heap)
                for i in members:
                    if loads[i] < roster[i].capacity:
                        member_of[i].append(pool)
            pool_of[key] = pool
        return pool

    plan: list[Assignment] = []
    for ticket in waiting:
        if spare <= 0:
            break  # nobody can take anything more; the rest keep waiting
        pool = pool_for((_language_key(ticket.language), _category_key(ticket.category)))
        heap = pool.heap
        while heap:
            load, last, agent_id, i = heap[0]
            if loads[i] >= roster[i].capacity:
                heapq.heappop(heap)  # full since it was filed here; never comes back in a plan
            elif load != loads[i] or last != lasts[i]:
                heapq.heapreplace(heap, (loads[i], lasts[i], agent_id, i))  # stale: re-file
            else:
                break
        if not heap:
            continue
        _, _, agent_id, i = heap[0]
        agent = roster[i]
        plan.append(
            Assignment(
                ticket.ticket_id,
                agent_id,
                _reason(ticket, agent, loads[i], pool.live, skills=skills_of[i], tags=tags_of[i]),
            )
        )
        clock += 1
        loads[i] += 1
        lasts[i] = clock
        spare -= 1
        if loads[i] >= agent.capacity:
            heapq.heappop(heap)
            for member in member_of[i]:
                member.live -= 1
        else:
            heapq.heapreplace(heap, (loads[i], clock, agent_id, i))
    return plan
