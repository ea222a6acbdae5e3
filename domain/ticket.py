"""The Ticket aggregate: every change is an event; the status rules are a state machine."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.personal import Personal

CHANNELS = ("email", "chat", "phone", "social", "web", "api")
PRIORITIES = ("low", "normal", "high", "urgent")
SETTABLE_STATUSES = ("open", "pending", "on_hold")
STATUSES = ("new", *SETTABLE_STATUSES, "resolved", "closed")
AUTHOR_TYPES = ("agent", "customer")
VISIBILITIES = ("public", "internal")
ACTIVE_STATUSES = ("open", "pending", "on_hold")


def ticket_id_for_external_ref(external_ref: str) -> UUID:
    """Tickets opened with an external_ref get a deterministic id, so a second open
    with the same ref collides in the event store instead of needing an index."""
    return uuid5(NAMESPACE_URL, f"/tickets/external_ref/{external_ref}")


class Ticket(Aggregate):
    """A customer's request, from first contact to closed."""

    class Event(Aggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            # The library stamps modified_on only after the event method ran; stamp it
            # first so event methods can record when things happened.
            if aggregate is not None:
                aggregate.modified_on = self.timestamp
            return super().mutate(aggregate)

    @staticmethod
    def create_id(external_ref: str | None = None, **_: Any) -> UUID:
        return ticket_id_for_external_ref(external_ref) if external_ref else uuid4()

    @event("Opened")
    def __init__(
        self,
        subject: Personal,
        description: Personal,
        requester: dict[str, Personal | None],
        customer_id: UUID,
        channel: str,
        language: str | None,
        priority: str,
        category: str | None,
        tags: list[str],
        external_ref: str | None,
        actor: Actor,
    ):
        self.subject = subject
        self.description = description
        self.requester = requester
        self.customer_id = customer_id
        self.channel = channel
        self.language = language
        self.priority = priority
        self.category = category
        self.tags = list(tags)
        self.external_ref = external_ref
        self.status = "new"
        self.assignee: str | None = None
        self.escalation: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.resolution: Personal | None = None
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None

    # Commands: each checks the rules, then records an event (or does nothing
    # when the ticket is already in the asked-for state).

    def add_message(
        self,
        body: str,
        author_type: str,
        author_id: str | None,
        visibility: str,
        channel: str | None,
        actor: Actor,
    ) -> None:
        self._refuse_when_closed("add a message to")
        if author_type == "customer" and visibility == "public":
            if self.status == "resolved":
                self._reopened(reason="customer replied", actor=actor)
            elif self.status == "pending":
                self._status_changed(status="open", actor=actor)
        self._message_added(
            message_id=uuid4(),
            body=Personal(self.customer_id, body),
            author_type=author_type,
            author_id=author_id,
            visibility=visibility,
            channel=channel or self.channel,
            actor=actor,
        )

    def assign(self, agent_id: str, actor: Actor) -> None:
        self._refuse_when_closed("assign")
        if agent_id != self.assignee:
            self._assigned(agent_id=agent_id, actor=actor)

    def unassign(self, actor: Actor) -> None:
        self._refuse_when_closed("unassign")
        if self.assignee is not None:
            self._unassigned(actor=actor)

    def change_status(self, status: str, actor: Actor) -> None:
        if status not in SETTABLE_STATUSES:
            raise TransitionNotAllowed(f"status {status!r} cannot be set directly")
        if self.status in ("resolved", "closed"):
            raise TransitionNotAllowed(
                f"a {self.status} ticket cannot be set to {status}; reopen it first"
            )
        if status != self.status:
            self._status_changed(status=status, actor=actor)

    def change_priority(self, priority: str, actor: Actor) -> None:
        self._refuse_when_closed("change the priority of")
        if priority != self.priority:
            self._priority_changed(priority=priority, actor=actor)

    def change_category(self, category: str | None, actor: Actor) -> None:
        self._refuse_when_closed("change the category of")
        if category != self.category:
            self._category_changed(category=category, actor=actor)

    def change_tags(self, add: list[str], remove: list[str], actor: Actor) -> None:
        self._refuse_when_closed("tag")
        added = [t for t in dict.fromkeys(add) if t not in self.tags and t not in remove]
        removed = [t for t in dict.fromkeys(remove) if t in self.tags]
        if added or removed:
            self._tags_changed(added=added, removed=removed, actor=actor)

    def escalate(self, reason: str, level: int | None, actor: Actor) -> None:
        if self.status in ("resolved", "closed"):
            raise TransitionNotAllowed(f"a {self.status} ticket cannot be escalated")
        current = self.escalation["level"] if self.escalation else 0
        new_level = current + 1 if level is None else level
        if new_level <= current:
            raise TransitionNotAllowed(
                f"escalation level must rise above the current level {current}"
            )
        self._escalated(reason=reason, level=new_level, actor=actor)

    def resolve(self, resolution: str | None, actor: Actor) -> None:
        if self.status in ("resolved", "closed"):
            raise TransitionNotAllowed(f"a {self.status} ticket cannot be resolved")
        wrapped = None if resolution is None else Personal(self.customer_id, resolution)
        self._resolved(resolution=wrapped, actor=actor)

    def reopen(self, reason: str | None, actor: Actor) -> None:
        if self.status != "resolved":
            raise TransitionNotAllowed(
                f"only a resolved ticket can be reopened, this one is {self.status}"
            )
        self._reopened(reason=reason, actor=actor)

    def close(self, actor: Actor) -> None:
        if self.status != "resolved":
            raise TransitionNotAllowed(
                f"only a resolved ticket can be closed, this one is {self.status}"
            )
        self._closed(actor=actor)

    def _refuse_when_closed(self, action: str) -> None:
        if self.status == "closed":
            raise TransitionNotAllowed(f"cannot {action} a closed ticket")

    def _leave_new(self) -> None:
        # "new" means no agent has acted yet; the first agent action opens the ticket.
        if self.status == "new":
            self.status = "open"

    # Events: these run on every replay, so they only apply state, never check rules.

    @event("MessageAdded")
    def _message_added(
        self,
        message_id: UUID,
        body: Personal,
        author_type: str,
        author_id: str | None,
        visibility: str,
        channel: str,
        actor: Actor,
    ) -> None:
        self.messages.append(
            {
                "id": message_id,
                "body": body,
                "author_type": author_type,
                "author_id": author_id,
                "visibility": visibility,
                "channel": channel,
                "created_at": self.modified_on,
            }
        )
        if author_type == "agent":
            self._leave_new()

    @event("Assigned")
    def _assigned(self, agent_id: str, actor: Actor) -> None:
        self.assignee = agent_id
        self._leave_new()

    @event("Unassigned")
    def _unassigned(self, actor: Actor) -> None:
        self.assignee = None

    @event("StatusChanged")
    def _status_changed(self, status: str, actor: Actor) -> None:
        self.status = status

    @event("PriorityChanged")
    def _priority_changed(self, priority: str, actor: Actor) -> None:
        self.priority = priority

    @event("CategoryChanged")
    def _category_changed(self, category: str | None, actor: Actor) -> None:
        self.category = category

    @event("TagsChanged")
    def _tags_changed(self, added: list[str], removed: list[str], actor: Actor) -> None:
        self.tags = [t for t in self.tags if t not in removed] + list(added)

    @event("Escalated")
    def _escalated(self, reason: str, level: int, actor: Actor) -> None:
        self.escalation = {"level": level, "reason": reason, "at": self.modified_on}

    @event("Resolved")
    def _resolved(self, resolution: Personal | None, actor: Actor) -> None:
        self.status = "resolved"
        self.resolution = resolution
        self.resolved_at = self.modified_on

    @event("Reopened")
    def _reopened(self, reason: str | None, actor: Actor) -> None:
        self.status = "open"
        self.resolution = None
        self.resolved_at = None

    @event("Closed")
    def _closed(self, actor: Actor) -> None:
        self.status = "closed"
        self.closed_at = self.modified_on


def event_type_name(event_obj: object) -> str:
    """The stable short name of an event (``MessageAdded`` -> ``message_added``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event_obj).__name__).lower()


class TransitionNotAllowed(Exception):
    """The ticket's current status does not allow the asked-for change."""
