"""A ticket's SLA timers, kept on a companion aggregate of the ticket (Clarification 7):
timer events never move the ticket's version, so an integrator's If-Match is not
broken by the clock. Every event carries the changed timer whole (with its due time,
computed when it was recorded) and the ticket's SLA summary, so an auditor reads what
the engine decided and views need no calendar to follow it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from domain.actor import Actor
from domain.sla.business_time import BusinessHours, business_seconds_between, due_at
from domain.sla.policy import SlaPolicy

Timer = dict[str, Any]
# Business hours by calendar name and revision: a timer counts in its calendar as it
# was when the policy was applied.
HoursOf = Callable[[str, int], BusinessHours]
LIVE = ("running", "paused")


def sla_id_for(ticket_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"/tickets/{ticket_id}/sla")


@dataclass(frozen=True)
class AppliedPolicy:
    """A policy as applied to a ticket, pinned to one calendar revision."""

    policy: SlaPolicy
    calendar_version: int
    hours: BusinessHours

    def as_record(self) -> dict[str, Any]:
        return {**self.policy.as_dict(), "calendar_version": self.calendar_version}


class TicketSla(Aggregate):
    """The first-response, next-response and resolution timers of one ticket."""

    @staticmethod
    def create_id(ticket_id: UUID, **_: Any) -> UUID:
        return sla_id_for(ticket_id)

    @event("Created")
    def __init__(self, ticket_id: UUID, actor: Actor):
        self.ticket_id = ticket_id
        self.policy: dict[str, Any] | None = None
        self.timers: dict[str, Timer] = {}

    # Queries

    def timer(self, metric: str, cycle: int | None = None) -> Timer | None:
        """The given cycle of a metric, or its latest."""
        cycles = [t for t in self.timers.values() if t["metric"] == metric]
        if cycle is not None:
            cycles = [t for t in cycles if t["cycle"] == cycle]
        return max(cycles, key=lambda t: t["cycle"], default=None)

    def live_timers(self, metrics: Iterable[str] | None = None) -> list[Timer]:
        wanted = set(metrics) if metrics is not None else None
        return [
            t
            for t in self.timers.values()
            if t["state"] in LIVE and (wanted is None or t["metric"] in wanted)
        ]

    @property
    def pause_on_hold(self) -> bool:
        return bool(self.policy and self.policy.get("pause_on_hold"))

    # Commands: each computes the new timer, then records it with an event.

    def apply_policy(
        self, applied: AppliedPolicy | None, at: datetime, actor: Actor, hours_of: HoursOf
    ) -> None:
        """Set (or change) the policy; live timers keep their elapsed business time and
        take the new target, breaching at once when already over it."""
        record = applied.as_record() if applied else None
        if record == self.policy:
            return
        self._policy_applied(policy=record, ticket_id=self.ticket_id, actor=actor)
        for timer in self.live_timers():
            target = applied.policy.targets.get(timer["metric"]) if applied else None
            if target is None:
                self._record(self._stopped, _stop(timer, at, _hours(timer, hours_of)), actor)
                continue
            retargeted = _retarget(timer, applied, at, _hours(timer, hours_of))
            self._record(self._retargeted, retargeted, actor)
            if retargeted["elapsed"] >= target and retargeted["breached_at"] is None:
                self._record(self._breached, {**retargeted, "breached_at": at}, actor)

    def applied(self, hours_of: HoursOf) -> AppliedPolicy | None:
        """The policy in force, as it was applied (a later edit of the list does not
        change it)."""
        if self.policy is None:
            return None
        version = self.policy["calendar_version"]
        policy = SlaPolicy.from_dict(self.policy)
        return AppliedPolicy(policy, version, hours_of(policy.calendar, version))

    def start(self, metric: str, at: datetime, actor: Actor, hours_of: HoursOf) -> None:
        applied = self.applied(hours_of)
        if applied is None or metric not in applied.policy.targets:
            return
        previous = self.timer(metric)
        if previous is not None and previous["state"] in LIVE:
            return
        cycle = previous["cycle"] + 1 if previous else 1
        timer = _new_timer(self.ticket_id, metric, cycle, applied, at)
        self._record(self._started, timer, actor)

    def pause(self, metrics: Iterable[str], at: datetime, actor: Actor, hours_of: HoursOf) -> None:
        for timer in self.live_timers(metrics):
            if timer["state"] == "running":
                self._record(self._paused, _pause(timer, at, _hours(timer, hours_of)), actor)

    def resume(self, metrics: Iterable[str], at: datetime, actor: Actor, hours_of: HoursOf) -> None:
        for timer in self.live_timers(metrics):
            if timer["state"] == "paused":
                self._record(self._resumed, _resume(timer, at, _hours(timer, hours_of)), actor)

    def fulfil(self, metric: str, at: datetime, actor: Actor, hours_of: HoursOf) -> None:
        for timer in self.live_timers([metric]):
            self._record(self._fulfilled, _fulfil(timer, at, _hours(timer, hours_of)), actor)

    def reopen_resolution(self, at: datetime, actor: Actor, hours_of: HoursOf) -> None:
        """Resolution time continues after a reopen: the same timer runs on, under the
        ticket's policy *now* (a priority changed while resolved retargets it, as a
        change while it ran would have), breaching at once when already over it."""
        timer = self.timer("resolution")
        applied = self.applied(hours_of)
        if timer is None or timer["state"] != "fulfilled":
            return
        if applied is None or "resolution" not in applied.policy.targets:
            return
        resumed = _resume(timer, at, _hours(timer, hours_of))
        if _policy_of(resumed) != _policy_of_applied(applied):
            resumed = _retarget(resumed, applied, at, _hours(timer, hours_of))
        self._record(self._resumed, resumed, actor)
        if resumed["elapsed"] >= resumed["target"] and resumed["breached_at"] is None:
            self._record(self._breached, {**resumed, "breached_at": at}, actor)

    def stop_all(self, at: datetime, actor: Actor, hours_of: HoursOf) -> None:
        for timer in self.live_timers():
            self._record(self._stopped, _stop(timer, at, _hours(timer, hours_of)), actor)

    def record_threshold(
        self,
        metric: str,
        cycle: int,
        threshold: str,
        now: datetime,
        actor: Actor,
        hours_of: HoursOf,
    ) -> Timer | None:
        """Record a warning or a breach once per timer and threshold, and only when the
        timer's own elapsed time (not a possibly stale view) says it is due."""
        timer = self.timer(metric, cycle)
        if timer is None or timer["state"] != "running":
            return None
        stamp = "warned_at" if threshold == "warning" else "breached_at"
        if timer[stamp] is not None:
            return None
        elapsed = elapsed_at(timer, now, _hours(timer, hours_of))
        limit = warn_seconds(timer) if threshold == "warning" else timer["target"]
        if elapsed < limit:
            return None
        recorded = {**timer, stamp: now}
        self._record(self._warned if threshold == "warning" else self._breached, recorded, actor)
        return recorded

    def _record(self, record_event: Any, timer: Timer, actor: Actor) -> None:
        after = {**self.timers, _key(timer): timer}
        record_event(timer=timer, summary=summarize(after.values()), actor=actor)

    # Events: they only store what the command computed.

    @event("PolicyApplied")
    def _policy_applied(
        self, policy: dict[str, Any] | None, ticket_id: UUID, actor: Actor
    ) -> None:  # ticket_id: so the event names its ticket in the feed
        self.policy = policy

    @event("TimerStarted")
    def _started(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer

    @event("TimerPaused")
    def _paused(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer

    @event("TimerResumed")
    def _resumed(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer

    @event("TimerRetargeted")
    def _retargeted(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer

    @event("TimerFulfilled")
    def _fulfilled(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer

    @event("TimerStopped")
    def _stopped(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer

    @event("SlaWarning")
    def _warned(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer

    @event("SlaBreached")
    def _breached(self, timer: Timer, summary: dict[str, Any], actor: Actor) -> None:
        self.timers[_key(timer)] = timer


# Pure timer arithmetic: a timer is a plain dict so events carry it as it is.


def _hours(timer: Timer, hours_of: HoursOf) -> BusinessHours:
    return hours_of(timer["calendar"], timer["calendar_version"])


def _key(timer: Timer) -> str:
    return f"{timer['metric']}:{timer['cycle']}"


def _new_timer(
    ticket_id: UUID, metric: str, cycle: int, applied: AppliedPolicy, at: datetime
) -> Timer:
    timer: Timer = {
        "ticket_id": str(ticket_id),
        "metric": metric,
        "cycle": cycle,
        "policy": applied.policy.name,
        "calendar": applied.policy.calendar,
        "calendar_version": applied.calendar_version,
        "target": applied.policy.targets[metric],
        "warn_fraction": applied.policy.warn_fraction,
        "state": "running",
        "started_at": at,
        "running_since": at,
        "paused_at": None,
        "elapsed": 0,
        "paused_seconds": 0,
        "due_at": None,
        "warn_at": None,
        "fulfilled_at": None,
        "met": None,
        "warned_at": None,
        "breached_at": None,
        "stopped_at": None,
    }
    return _with_due_times(timer, applied.hours)


def elapsed_at(timer: Timer, now: datetime, hours: BusinessHours) -> int:
    """Business seconds counted against the target up to ``now``."""
    if timer["state"] != "running":
        return timer["elapsed"]
    return timer["elapsed"] + business_seconds_between(timer["running_since"], now, hours)


def warn_seconds(timer: Timer) -> int:
    return math.ceil(timer["target"] * timer["warn_fraction"])


def _with_due_times(timer: Timer, hours: BusinessHours) -> Timer:
    if timer["state"] != "running":
        return {**timer, "due_at": None, "warn_at": None}
    since, elapsed = timer["running_since"], timer["elapsed"]
    due = due_at(since, max(timer["target"] - elapsed, 0), hours)
    warn = None
    if timer["warned_at"] is None:
        warn = due_at(since, max(warn_seconds(timer) - elapsed, 0), hours)
    return {**timer, "due_at": due, "warn_at": warn}


def _settle(timer: Timer, at: datetime, hours: BusinessHours) -> Timer:
    """The timer with the running stretch up to ``at`` added to its elapsed time."""
    return {**timer, "elapsed": elapsed_at(timer, at, hours), "running_since": None}


def _pause(timer: Timer, at: datetime, hours: BusinessHours) -> Timer:
    settled = _settle(timer, at, hours)
    return _with_due_times({**settled, "state": "paused", "paused_at": at}, hours)


def _resume(timer: Timer, at: datetime, hours: BusinessHours) -> Timer:
    # Time not counted (waiting on the customer, or resolved until a reopen).
    stopped_since = timer["paused_at"] if timer["state"] == "paused" else timer["fulfilled_at"]
    paused_seconds = timer["paused_seconds"]
    if stopped_since is not None:
        paused_seconds += int((at - stopped_since).total_seconds())
    resumed = {
        **timer,
        "state": "running",
        "running_since": at,
        "paused_at": None,
        "paused_seconds": paused_seconds,
        "fulfilled_at": None,
        "met": None,
    }
    return _with_due_times(resumed, hours)


def _fulfil(timer: Timer, at: datetime, hours: BusinessHours) -> Timer:
    settled = _settle(timer, at, hours)
    met = settled["elapsed"] <= timer["target"]
    fulfilled = {**settled, "state": "fulfilled", "fulfilled_at": at, "met": met}
    return _with_due_times(fulfilled, hours)


def _stop(timer: Timer, at: datetime, hours: BusinessHours) -> Timer:
    settled = _settle(timer, at, hours)
    return _with_due_times({**settled, "state": "stopped", "stopped_at": at}, hours)


def _retarget(timer: Timer, applied: AppliedPolicy, at: datetime, old: BusinessHours) -> Timer:
    # Count the time so far on the calendar it ran under, then go on under the new one.
    settled = _settle(timer, at, old)
    if timer["state"] == "running":
        settled["running_since"] = at
    retargeted = {
        **settled,
        "policy": applied.policy.name,
        "calendar": applied.policy.calendar,
        "calendar_version": applied.calendar_version,
        "target": applied.policy.targets[timer["metric"]],
        "warn_fraction": applied.policy.warn_fraction,
    }
    return _with_due_times(retargeted, applied.hours)


def _policy_of(timer: Timer) -> tuple:
    return timer["policy"], timer["calendar"], timer["calendar_version"], timer["target"]


def _policy_of_applied(applied: AppliedPolicy) -> tuple:
    policy = applied.policy
    return policy.name, policy.calendar, applied.calendar_version, policy.targets["resolution"]


def summarize(timers: Iterable[Timer]) -> dict[str, Any]:
    """What the queue orders by: the earliest due time of running timers, and whether
    any running timer is breached."""
    running = [t for t in timers if t["state"] == "running"]
    dues = [t["due_at"] for t in running if t["due_at"] is not None]
    return {
        "due_at": min(dues, default=None),
        "breached": any(t["breached_at"] is not None for t in running),
    }


# Events stored before this module moved name it by its old path
# ("domain.sla_timers:TicketSla.TimerStarted"...); databases keep them, so it must still resolve.
register_topic("domain.sla_timers:TicketSla", TicketSla)

# Every event that carries a timer (and the ticket's summary).
TIMER_EVENTS = (
    TicketSla.TimerStarted,
    TicketSla.TimerPaused,
    TicketSla.TimerResumed,
    TicketSla.TimerRetargeted,
    TicketSla.TimerFulfilled,
    TicketSla.TimerStopped,
    TicketSla.SlaWarning,
    TicketSla.SlaBreached,
)
