"""The Ticket aggregate: every change is an event; the status rules are a state machine."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.message_log import MessageLog, complete_message
from domain.personal import Personal
from domain.stamped import StampedEvent
from domain.ticket_refs import outbound_reply, ticket_id_for_external_ref
from domain.ticket_vocabulary import SETTABLE_STATUSES

# A file's description as events record it: its name (Personal, or None), type and size.
Attachment = dict[str, Personal | str | int | None]


class Ticket(Aggregate):
    """A customer's request, from first contact to closed."""

    # Snapshots of version 1 hold the messages as a plain list; from version 2 they are a
    # MessageLog, which persistence stores compactly (domain/message_log.py).
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["messages"] = MessageLog(map(complete_message, state["messages"]))

    class Event(StampedEvent):
        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            # The ETag moves only with changes a person or integrator made: events the
            # system records by itself (routing, SLA escalations) must not make an
            # integrator's If-Match fail (Clarification 7).
            actor = getattr(self, "actor", None)
            if aggregate is not None and (actor is None or actor.role != "system"):
                aggregate.etag_version = self.originator_version
            return aggregate

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
        language_source: dict[str, Any] | None = None,
        follow_up_of: UUID | None = None,
        attachments: list[Attachment] | None = None,
        external_message_id: str | None = None,
        kb_suggestion_id: UUID | None = None,
    ):
        # The keywords with defaults came with multi-channel intake; older events lack
        # them and replay with the defaults. kb_suggestion_id (issue 23) names the
        # help-centre suggestions the contact form showed before this ticket was opened
        # anyway: only the event keeps it, for the kb report's deflection.
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
        self.messages = MessageLog()
        self.resolution: Personal | None = None
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.language_source = language_source
        self.follow_up_of = follow_up_of
        self.attachments = list(attachments or [])
        self.external_message_ids = [external_message_id] if external_message_id else []
        self.survey_id: UUID | None = None  # the latest resolution's survey
        self.pending_since: datetime | None = None
        self.reminded_at: datetime | None = None  # within the current pending stretch

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
        attachments: list[dict[str, Any]] | None = None,
        external_id: str | None = None,
        articles: list[str] | None = None,
    ) -> None:
        """Record a message, with the knowledge-base articles it cites. A customer's
        public message brings a pending ticket back to open and reopens a resolved one
        (Clarification 4); an agent's public message is an outbound reply, recorded with
        the channel and thread to answer on."""
        self._refuse_when_closed("add a message to")
        if author_type == "customer" and visibility == "public":
            if self.status == "resolved":
                self._reopened(reason="customer replied", actor=actor)
            elif self.status == "pending":
                self._status_changed(status="open", actor=actor)
        message_id = uuid4()
        channel = channel or self.channel
        outbound = None
        if author_type == "agent" and visibility == "public":
            outbound = outbound_reply(self.id, message_id, channel, self.external_message_ids)
        self._message_added(
            message_id=message_id,
            body=Personal(self.customer_id, body),
            author_type=author_type,
            author_id=author_id,
            visibility=visibility,
            channel=channel,
            actor=actor,
            attachments=owned_attachments(self.customer_id, attachments),
            external_id=external_id,
            outbound=outbound,
            articles=list(articles or []),
        )

    def copy_to_change(self) -> Ticket:
        """A copy a command can change without changing this one: what a process keeps
        of a ticket between commands (application/ticket_loads.py) is copied for each.

        The ticket's own containers (its messages, tags, lists of ids) are copied; what
        they hold is shared. That is enough because events only ever add to a container
        or replace a value, never change one they did not make in that same event
        (tests/unit/test_ticket_copies.py runs every event on a copy and checks the
        original); a copy.deepcopy, which would copy every message, cost three to four
        times as much as this (issue 19)."""
        copy = object.__new__(type(self))
        vars(copy).update({name: _own_container(value) for name, value in vars(self).items()})
        return copy

    def has_message(self, message_id: UUID) -> bool:
        return any(m["id"] == message_id for m in self.messages)

    def assign(self, agent_id: str, actor: Actor, reason: dict[str, Any] | None = None) -> None:
        self._refuse_when_closed("assign")
        if agent_id != self.assignee:
            self._assigned(agent_id=agent_id, actor=actor, reason=reason)

    def route_to(self, agent_id: str, reason: dict[str, Any], actor: Actor) -> bool:
        """The router's assignment: only while the ticket still waits for an agent, so a
        decision made on a slightly stale view, or replayed, never assigns twice."""
        if self.assignee is not None or self.status in ("resolved", "closed"):
            return False
        self._assigned(agent_id=agent_id, actor=actor, reason=reason)
        return True

    def change_language(self, language: str, actor: Actor) -> None:
        self._refuse_when_closed("change the language of")
        if language != self.language:
            self._language_changed(language=language, actor=actor)

    @property
    def is_active(self) -> bool:
        return self.status not in ("resolved", "closed")

    def unassign(self, actor: Actor, reason: dict[str, Any] | None = None) -> None:
        self._refuse_when_closed("unassign")
        if self.assignee is not None:
            self._unassigned(actor=actor, reason=reason)

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
        """Resolve, which issues a satisfaction survey: the event names it, and the
        application creates it beside the ticket (see application.surveys)."""
        if self.status in ("resolved", "closed"):
            raise TransitionNotAllowed(f"a {self.status} ticket cannot be resolved")
        wrapped = None if resolution is None else Personal(self.customer_id, resolution)
        self._resolved(resolution=wrapped, actor=actor, survey_id=uuid4())

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

    # Follow-up: the scheduler's commands. Each re-checks the ticket itself (the view
    # that found it may lag) and does nothing when it is no longer due.

    def close_when_resolved_for(
        self, after: timedelta, now: datetime, actor: Actor, reason: str | None = None
    ) -> bool:
        """Close a ticket resolved at least ``after`` ago and not reopened since;
        ``reason`` is the text recorded, in the ticket's language (application.
        system_texts), English without one."""
        if self.status != "resolved" or self.resolved_at is None:
            return False
        if now - self.resolved_at < after:
            return False
        self._closed(actor=actor, reason=reason or f"resolved for {_duration_text(after)}")
        return True

    def remind_when_pending_for(self, after: timedelta, now: datetime, actor: Actor) -> bool:
        """One reminder per pending stretch, once the customer has not answered for
        ``after``."""
        if self.status != "pending" or self.pending_since is None or self.reminded_at:
            return False
        if now - self.pending_since < after:
            return False
        self._customer_reminded(pending_since=self.pending_since, actor=actor)
        return True

    def resolve_when_pending_for(
        self, after: timedelta, now: datetime, actor: Actor, reason: str | None = None
    ) -> bool:
        """Resolve a ticket the customer left unanswered for ``after`` (``reason``: as
        close_when_resolved_for's)."""
        if self.status != "pending" or self.pending_since is None:
            return False
        if now - self.pending_since < after:
            return False
        self.resolve(reason or f"no reply from the customer for {_duration_text(after)}", actor)
        return True

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
        attachments: list[Attachment] | None = None,
        external_id: str | None = None,
        outbound: dict[str, Any] | None = None,
        articles: list[str] | None = None,
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
                "attachments": attachments or [],
                "external_id": external_id,
                "outbound": outbound,
                "articles": list(articles or []),
            }
        )
        if external_id:
            self.external_message_ids.append(external_id)
        if author_type == "agent":
            self._leave_new()

    @event("Assigned")
    def _assigned(self, agent_id: str, actor: Actor, reason: dict[str, Any] | None = None) -> None:
        # ``reason`` says why the router chose this agent; None for a person's choice.
        self.assignee = agent_id
        self._leave_new()

    @event("LanguageChanged")
    def _language_changed(self, language: str, actor: Actor) -> None:
        self.language = language

    @event("Unassigned")
    def _unassigned(self, actor: Actor, reason: dict[str, Any] | None = None) -> None:
        # ``reason`` says why the system took the ticket back (its agent was deactivated);
        # None for a person's unassign, and in events from before it existed.
        self.assignee = None

    @event("StatusChanged")
    def _status_changed(self, status: str, actor: Actor) -> None:
        self._enter_status(status)

    @event("CustomerReminded")
    def _customer_reminded(self, pending_since: datetime, actor: Actor) -> None:
        self.reminded_at = self.modified_on

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
    def _resolved(
        self, resolution: Personal | None, actor: Actor, survey_id: UUID | None = None
    ) -> None:
        # survey_id came with surveys; older resolutions issued none.
        self._enter_status("resolved")
        self.resolution = resolution
        self.resolved_at = self.modified_on
        self.survey_id = survey_id

    @event("Reopened")
    def _reopened(self, reason: str | None, actor: Actor) -> None:
        self._enter_status("open")
        self.resolution = None
        self.resolved_at = None

    @event("Closed")
    def _closed(self, actor: Actor, reason: str | None = None) -> None:
        # reason: why the system closed it by itself; None for a person's close.
        self._enter_status("closed")
        self.closed_at = self.modified_on

    def _enter_status(self, status: str) -> None:
        if status == "pending" and self.status != "pending":
            self.pending_since, self.reminded_at = self.modified_on, None
        elif status != "pending":
            self.pending_since, self.reminded_at = None, None
        self.status = status


def _own_container(value: Any) -> Any:
    """A copy of a container (its items shared), or the value itself."""
    if isinstance(value, (list, dict, set, MessageLog)):
        return value.copy()
    return value


def _duration_text(after: timedelta) -> str:
    days, seconds = after.days, after.seconds
    if seconds == 0:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{after.total_seconds():.0f} seconds"


def owned_attachments(owner: UUID, attachments: list[dict[str, Any]] | None) -> list[Attachment]:
    """Attachment names are personal data (Clarification 1); types and sizes are not.
    None becomes []: from version 2 an event's attachments are always a list."""
    return [
        {**a, "filename": None if a.get("filename") is None else Personal(owner, a["filename"])}
        for a in attachments or ()
    ]


def _attachments_as_a_list(state: dict[str, Any]) -> None:
    """Version 1 of Opened and MessageAdded recorded no attachments as null; version 2
    records [] (a consumer need not tell "none" from null)."""
    if state.get("attachments") is None:
        state["attachments"] = []


# Shape versions of the events whose shape changed since they were first stored, each
# with its upcasters (eventsourcing's mapper runs them on every older stored event).
for _changed in (Ticket.Opened, Ticket.MessageAdded):
    _changed.class_version = 2
    _changed.upcast_v1_v2 = staticmethod(_attachments_as_a_list)


def _no_articles_cited(state: dict[str, Any]) -> None:
    """Version 3 of MessageAdded records the knowledge-base articles a reply cites
    (issue 23); every message before it cited none."""
    state.setdefault("articles", [])


def _no_suggestion_shown(state: dict[str, Any]) -> None:
    """Version 3 of Opened records the help-centre suggestions the contact form showed
    first (issue 23); every ticket before it was opened without any."""
    state.setdefault("kb_suggestion_id", None)


Ticket.MessageAdded.class_version = 3
Ticket.MessageAdded.upcast_v2_v3 = staticmethod(_no_articles_cited)
Ticket.Opened.class_version = 3
Ticket.Opened.upcast_v2_v3 = staticmethod(_no_suggestion_shown)


def event_type_name(event_obj: object) -> str:
    """The stable short name of an event (``MessageAdded`` -> ``message_added``)."""
    return event_class_type_name(type(event_obj))


def event_class_type_name(event_class: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_class.__name__).lower()


def aggregate_type_name(event_class: type) -> str:
    """Whose events these are (``Ticket.Opened`` -> ``ticket``, ``TicketSla.Started`` ->
    ``ticket_sla``): the feed's ``aggregate_type``."""
    owner = event_class.__qualname__.split(".")[0]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", owner).lower()


class TransitionNotAllowed(Exception):
    """The ticket's current status does not allow the asked-for change."""
