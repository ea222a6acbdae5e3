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


class CandidateIndex:
    """The agents a plan can still give tickets to, indexed by what a ticket needs.

    Holds the plan's working copy of each available agent's load and last assignment (agents
    are numbered by their place in ``roster``) and indexes them by primary language and by
    (language, skill), with None standing for "any language", so a ticket only looks at
    agents who could take it. Each distinct candidate set gets one pool, built the first time
    a ticket needs it and shared by every (language, category) with the same candidates: with
    generalists or agents who all speak the same languages many keys share one set, and a
    shared heap has no stale entries to re-file.
    """

    def __init__(self, agents: Iterable[AgentState]) -> None:
        self.roster = [agent for agent in agents if _available(agent)]
        self.loads = [agent.load for agent in self.roster]
        self.lasts = [agent.last_assigned for agent in self.roster]
        self.spare = sum(agent.capacity - agent.load for agent in self.roster)
        # Parsed once: a plan writes thousands of reasons for the same agents.
        self.skills_of = [_agent_skills(agent) for agent in self.roster]
        self.tags_of = [_tags_by_language(agent) for agent in self.roster]
        self._speakers: defaultdict[str | None, list[int]] = defaultdict(list)
        self._generalists: defaultdict[str | None, list[int]] = defaultdict(list)
        self._skilled: defaultdict[tuple[str | None, str], list[int]] = defaultdict(list)
        for i, agent in enumerate(self.roster):
            # Language None = a ticket without a language: every agent is indexed under it too.
            for language in (*self.tags_of[i], None):
                self._speakers[language].append(i)
                if agent.generalist:
                    self._generalists[language].append(i)
                for skill in self.skills_of[i]:
                    self._skilled[(language, skill)].append(i)
        self._pools: dict[tuple[int, ...], _Pool] = {}
        self._pool_of: dict[tuple[str | None, str | None], _Pool] = {}
        self._member_of: list[list[_Pool]] = [[] for _ in self.roster]

    def candidates(self, language: str | None, category: str | None) -> tuple[int, ...]:
        """Who speaks the language and knows the category (both as routing compares them),
        full or not, by roster number in ascending order."""
        if category is None:
            return tuple(self._speakers.get(language, ()))
        # A generalist who also lists the skill is one candidate, not two.
        return tuple(
            sorted(
                {*self._generalists.get(language, ()), *self._skilled.get((language, category), ())}
            )
        )

    def pool_for(self, ticket: WaitingTicket) -> _Pool:
        key = (_language_key(ticket.language), _category_key(ticket.category))
        pool = self._pool_of.get(key)
        if pool is None:
            members = self.candidates(*key)
            pool = self._pools.get(members)
            if pool is None:
                pool = self._pools[members] = self._new_pool(members)
            self._pool_of[key] = pool
        return pool

    def has_room(self, i: int) -> bool:
        return self.loads[i] < self.roster[i].capacity

    def rank(self, i: int) -> tuple[int, int, str, int]:
        """Agent i's current heap entry: smaller is better, as in _rank."""
        return (self.loads[i], self.lasts[i], self.roster[i].agent_id, i)

    def charge(self, i: int, clock: int) -> None:
        """Agent i takes a ticket: one more in their load, stamped as the latest assigned.
        Once full they stop counting as a candidate in every pool they are in."""
        self.loads[i] += 1
        self.lasts[i] = clock
        self.spare -= 1
        if not self.has_room(i):
            for pool in self._member_of[i]:
                pool.live -= 1

    def _new_pool(self, members: tuple[int, ...]) -> _Pool:
        # Built from the working copy: agents filled earlier in this plan stay out.
        room = [i for i in members if self.has_room(i)]
        pool = _Pool([self.rank(i) for i in room])
        for i in room:
            self._member_of[i].append(pool)
        return pool


class _Pool:
    """The agents who could take one kind of ticket, as a min-heap of rank entries.

    An agent can sit in several pools, but an assignment only re-files them in the pool it
    came from; the other heaps keep an older, smaller rank for them. Ranks only grow (load +1,
    clock later), so a stale entry surfaces no later than it should and is re-filed with the
    current rank when it reaches the top.
    """

    __slots__ = ("heap", "live")

    def __init__(self, entries: list[tuple[int, int, str, int]]) -> None:
        heapq.heapify(entries)
        self.heap = entries  # (load, last_assigned, agent_id, roster number); may be stale
        self.live = len(entries)  # agents in the heap still under capacity: the candidates

    def best(self, index: CandidateIndex) -> int | None:
        """The roster number of the best agent with room, or None when the pool has none."""
        heap, loads, lasts = self.heap, index.loads, index.lasts
        while heap:
            load, last, agent_id, i = heap[0]
            if not index.has_room(i):
                heapq.heappop(heap)  # full since it was filed here; never comes back in a plan
            elif load != loads[i] or last != lasts[i]:
                heapq.heapreplace(heap, (loads[i], lasts[i], agent_id, i))  # stale: re-file
            else:
                return i
        return None

    def refile_best(self, index: CandidateIndex) -> None:
        """After the best agent was charged: drop them when full, else file their new rank."""
        i = self.heap[0][3]
        if index.has_room(i):
            heapq.heapreplace(self.heap, index.rank(i))
        else:
            heapq.heappop(self.heap)


def plan_assignments(
    waiting: Iterable[WaitingTicket], agents: Iterable[AgentState], *, clock_start: int = 0
) -> list[Assignment]:
    """Assign the waiting tickets in the order given; the same choices as repeated choose_agent.

    Each choice adds 1 to the agent's working load and stamps them with the next clock value,
    so they become the most recently assigned. Assignments come back in the order made.
    Each ticket looks only at its pool in the CandidateIndex; the plan stops as soon as no
    agent has spare capacity left.
    """
    everyone = list(agents)
    # The plan's clock starts above every stamp already given, so a chosen agent always
    # becomes the most recently assigned, whoever else is in the list.
    clock = max([clock_start, *(agent.last_assigned for agent in everyone)])
    index = CandidateIndex(everyone)
    plan: list[Assignment] = []
    for ticket in waiting:
        if index.spare <= 0:
            break  # nobody can take anything more; the rest keep waiting
        pool = index.pool_for(ticket)
        i = pool.best(index)
        if i is None:
            continue
        agent = index.roster[i]
        reason = _reason(
            ticket,
            agent,
            index.loads[i],
            pool.live,
            skills=index.skills_of[i],
            tags=index.tags_of[i],
        )
        plan.append(Assignment(ticket.ticket_id, agent.agent_id, reason))
        clock += 1
        index.charge(i, clock)
        pool.refile_best(index)
    return plan
