"""What each event's ``data`` holds, as the event feed, a ticket's history and (issue 22)
webhooks show it: one marshmallow schema per event type, read by the catalogue
(interface/events/catalogue.py) for the OpenAPI document and docs/events.md.

Each schema's docstring says when the event is recorded; each field's ``description``
what it means. ``personal()`` marks customer data: it is encrypted with the customer's
key and reads ``[erased]`` once the customer is erased (Clarification 1).

tests/unit/test_event_catalogue.py fails while a member an event records is missing
here, or one listed here is not recorded.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from domain.actor import ROLES
from domain.customer import IDENTITY_KINDS
from domain.intake import KEY_KINDS
from domain.routing import AVAILABILITIES
from domain.sla.policy import METRICS
from domain.ticket_vocabulary import (
    AUTHOR_TYPES,
    CHANNELS,
    PRIORITIES,
    SETTABLE_STATUSES,
    VISIBILITIES,
)
from projections.email import CLOSE_NOTICE, INVITATION, REMINDER, REPLY

PERSONAL = (
    "Personal: encrypted with the customer's key; reads `[erased]` after the "
    "customer's erasure."
)


def _meta(description: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"description": description, **extra}}


def text(description: str, *, nullable: bool = False) -> fields.String:
    return fields.String(required=True, allow_none=nullable, **_meta(description))


def personal(description: str, *, nullable: bool = False) -> fields.String:
    return fields.String(
        required=True,
        allow_none=nullable,
        **_meta(f"{description} {PERSONAL}", **{"x-personal": True}),
    )


def one_of(choices: tuple[str, ...], description: str, *, nullable: bool = False):
    return fields.String(
        required=True,
        allow_none=nullable,
        validate=validate.OneOf(choices),
        **_meta(description),
    )


def uuid(description: str, *, nullable: bool = False) -> fields.UUID:
    return fields.UUID(required=True, allow_none=nullable, **_meta(description))


def instant(description: str, *, nullable: bool = False) -> fields.AwareDateTime:
    return fields.AwareDateTime(required=True, allow_none=nullable, **_meta(description))


def integer(description: str, *, nullable: bool = False, **kwargs: Any) -> fields.Integer:
    return fields.Integer(required=True, allow_none=nullable, **_meta(description), **kwargs)


def flag(description: str) -> fields.Boolean:
    return fields.Boolean(required=True, **_meta(description))


def texts(description: str) -> fields.List:
    return fields.List(fields.String(), required=True, **_meta(description))


def nested(schema: type[Schema], description: str, *, nullable: bool = False, many=False):
    return fields.Nested(
        schema, required=True, allow_none=nullable, many=many, **_meta(description)
    )


# Shapes several events share.


class Requester(Schema):
    """Who opened the ticket, as they identified themselves; a member not given is null."""

    name = personal("Their name.", nullable=True)
    email = personal("Their email address.", nullable=True)
    phone = personal("Their phone number.", nullable=True)
    external_id = personal("Their id in the integrator's system.", nullable=True)
    handle = personal('A social handle, as "network:@name".', nullable=True)
    conversation = fields.String(
        allow_none=True,
        **_meta(
            'Present only for an anonymous chat or web visitor: their conversation, as '
            f'"channel:id". {PERSONAL}',
            **{"x-personal": True},
        ),
    )


class Attachment(Schema):
    """A file that came with a message; Atende keeps its description, not its bytes."""

    filename = personal("The file's name as sent.", nullable=True)
    content_type = text("Its media type, as sent.")
    size = integer("Its size in bytes.")


class LanguageSource(Schema):
    """How the ticket's language was decided, when the request did not give one."""

    source = one_of(
        ("given", "detected", "requester", "default"),
        "Where the language came from.",
    )
    detected = text("What the detector found, if anything.", nullable=True)
    confidence = fields.Float(
        required=True, allow_none=True, **_meta("The detector's confidence, 0 to 1.")
    )


class RoutingReason(Schema):
    """Why the router chose this agent (absent when a person assigned the ticket)."""

    language = text("The ticket's language.", nullable=True)
    agent_languages = texts("Which of the agent's languages matched.")
    skill = text(
        'The skill that qualified the agent: the category, or "generalist".', nullable=True
    )
    load = integer("Tickets the agent held when chosen.")
    capacity = integer("How many tickets the agent takes at once.")
    candidates = integer("Agents who qualified.")
    rule = text("The routing rule's name and version.")


class HandBack(Schema):
    """Why the system took a ticket back from its agent."""

    why = text('What happened ("agent deactivated").')
    agent_id = text("The agent who held it.")


class Outbound(Schema):
    """Where and how to deliver an agent's public reply."""

    channel = one_of(CHANNELS, "The channel to answer on.")
    in_reply_to = text("The customer's latest message id it answers.", nullable=True)
    email_message_id = fields.String(
        **_meta("By email only: the reply's own Message-ID, without angle brackets.")
    )


class Policy(Schema):
    """An SLA policy: which tickets it covers and their targets in business seconds."""

    name = text("The policy's name.")
    calendar = text("The calendar whose business hours the targets count.")
    targets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(METRICS)),
        values=fields.Integer(),
        required=True,
        **_meta("Business seconds allowed, per metric."),
    )
    conditions = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        **_meta("Field -> accepted values; every condition given must hold."),
    )
    pause_on_hold = flag("Whether timers pause while the ticket is on hold.")
    warn_fraction = fields.Float(
        required=True, **_meta("The share of a target after which a warning is recorded.")
    )
    escalate_on_breach = flag("Whether a breach escalates the ticket.")
    raise_priority_on_breach = flag("Whether a breach raises the ticket's priority.")


class AppliedPolicy(Policy):
    """A policy as applied to a ticket, pinned to one revision of its calendar."""

    calendar_version = integer("The calendar revision its timers count in.")


class Timer(Schema):
    """One SLA timer (a metric's cycle) whole, as the event left it."""

    ticket_id = uuid("The ticket.")
    metric = one_of(METRICS, "What it measures.")
    cycle = integer("Which cycle of the metric (next_response restarts on each reply).")
    policy = text("The policy that set it.")
    calendar = text("The calendar it counts in.")
    calendar_version = integer("The calendar's revision.")
    target = integer("Business seconds allowed.")
    warn_fraction = fields.Float(required=True, **_meta("When the warning falls."))
    state = one_of(("running", "paused", "fulfilled", "stopped"), "Where it stands.")
    started_at = instant("When it started.")
    running_since = instant("When it last started or resumed running.", nullable=True)
    paused_at = instant("When it was paused.", nullable=True)
    elapsed = fields.Float(
        required=True, **_meta("Business seconds counted up to running_since or pause.")
    )
    paused_seconds = fields.Float(required=True, **_meta("Wall-clock seconds spent paused."))
    due_at = instant("When it breaches if still running.", nullable=True)
    warn_at = instant("When its warning falls.", nullable=True)
    fulfilled_at = instant("When its goal was met or missed.", nullable=True)
    met = fields.Boolean(
        required=True, allow_none=True, **_meta("Whether it was fulfilled within target.")
    )
    warned_at = instant("When it was warned about.", nullable=True)
    breached_at = instant("When it breached.", nullable=True)
    stopped_at = instant("When it stopped without being fulfilled.", nullable=True)


class SlaSummary(Schema):
    """What the queue orders by, after the event."""

    due_at = instant("The earliest due time of the ticket's running timers.", nullable=True)
    breached = flag("Whether any running timer is breached.")


class Holiday(Schema):
    date = fields.Date(required=True, **_meta("The day, closed all day."))
    name = text("The holiday's name.")


class Closure(Schema):
    date = fields.Date(required=True, **_meta("The day."))
    start = text('Closed from ("HH:MM"), or null for the day\'s start.', nullable=True)
    end = text('Closed until ("HH:MM"), or null for the day\'s end.', nullable=True)
    reason = text("Why.")


# Tickets.


class TicketOpened(Schema):
    """A ticket was opened (through the API, email or another channel's intake)."""

    subject = personal("The subject.")
    description = personal("The first message's text.")
    requester = nested(Requester, "Who asked.")
    customer_id = uuid("The customer the requester was recognised as.")
    channel = one_of(CHANNELS, "Where the request came from.")
    language = text("BCP 47 language tag, if known.", nullable=True)
    priority = one_of(PRIORITIES, "The priority.")
    category = text("The topic, if given.", nullable=True)
    tags = texts("Free tags.")
    external_ref = text("The integrator's own id for it, if given.", nullable=True)
    language_source = nested(
        LanguageSource, "How the language was decided; null when given.", nullable=True
    )
    follow_up_of = uuid("The closed ticket this one follows up.", nullable=True)
    attachments = nested(Attachment, "Files that came with it (version 2: never null).", many=True)
    external_message_id = text("The email's Message-ID, for threading.", nullable=True)
    kb_suggestion_id = uuid(
        "The help-centre suggestions the contact form showed before it was opened "
        "(version 3: null before, and when none were shown).",
        nullable=True,
    )


class TicketMessageAdded(Schema):
    """A reply or an internal note was added."""

    message_id = uuid("The message's id.")
    body = personal("Its text.")
    author_type = one_of(AUTHOR_TYPES, "Who wrote it.")
    author_id = text("The agent who wrote it, for agents' messages.", nullable=True)
    visibility = one_of(VISIBILITIES, "Internal notes are never shown to the customer.")
    channel = one_of(CHANNELS, "Where it was written or is to be sent.")
    attachments = nested(Attachment, "Files that came with it (version 2: never null).", many=True)
    external_id = text("Its id on the channel (an email's Message-ID).", nullable=True)
    outbound = nested(
        Outbound, "For an agent's public reply: where to deliver it.", nullable=True
    )
    articles = texts(
        "The knowledge-base articles it cites, by id (version 3: earlier messages cite none)."
    )


class TicketAssigned(Schema):
    """The ticket was given to an agent, by a person or by the router."""

    agent_id = text("The agent.")
    reason = nested(RoutingReason, "The router's reasons; null when a person chose.", nullable=True)


class TicketUnassigned(Schema):
    """The ticket went back to the queue."""

    reason = nested(HandBack, "Why the system did it; null when a person did.", nullable=True)


class TicketStatusChanged(Schema):
    """The status was set (open, pending or on hold)."""

    status = one_of(SETTABLE_STATUSES, "The new status.")


class TicketPriorityChanged(Schema):
    """The priority was changed (by a person, or by an SLA breach)."""

    priority = one_of(PRIORITIES, "The new priority.")


class TicketCategoryChanged(Schema):
    """The topic was changed."""

    category = text("The new topic, or null for none.", nullable=True)


class TicketLanguageChanged(Schema):
    """The language was corrected."""

    language = text("The new BCP 47 language tag.")


class TicketTagsChanged(Schema):
    """Tags were added or removed."""

    added = texts("Tags added.")
    removed = texts("Tags removed.")


class TicketEscalated(Schema):
    """The ticket was escalated (by a person, or by an SLA breach)."""

    reason = text("Why.")
    level = integer("The escalation level after this one (1, 2, ...).")


class TicketResolved(Schema):
    """The ticket was resolved; a satisfaction survey was issued with it."""

    resolution = personal("What was done.", nullable=True)
    survey_id = uuid("The survey issued with the resolution.", nullable=True)


class TicketReopened(Schema):
    """A resolved ticket was reopened (its survey is voided)."""

    reason = text("Why.", nullable=True)


class TicketClosed(Schema):
    """The ticket was closed: no further change is possible."""

    reason = text("Why (such as an automatic close after the follow-up period).", nullable=True)


class TicketCustomerReminded(Schema):
    """The customer was reminded of a ticket pending on them."""

    pending_since = instant("Since when it has waited on the customer.")


# A ticket's SLA (a companion aggregate: its events never move the ticket's ETag).


class TicketSlaCreated(Schema):
    """A ticket's SLA record was started."""

    ticket_id = uuid("The ticket.")


class TicketSlaPolicyApplied(Schema):
    """The policy that covers the ticket was chosen (again, after a change to it)."""

    ticket_id = uuid("The ticket.")
    policy = nested(AppliedPolicy, "The policy; null when none covers it.", nullable=True)


class _TimerChange(Schema):
    timer = nested(Timer, "The timer after the change.")
    summary = nested(SlaSummary, "The ticket's SLA summary after the change.")


class TicketSlaTimerStarted(_TimerChange):
    """An SLA timer started."""


class TicketSlaTimerPaused(_TimerChange):
    """An SLA timer paused (the ticket went on hold under a pausing policy)."""


class TicketSlaTimerResumed(_TimerChange):
    """A paused SLA timer resumed."""


class TicketSlaTimerRetargeted(_TimerChange):
    """A timer's target or due time moved (a new policy, priority or calendar)."""


class TicketSlaTimerFulfilled(_TimerChange):
    """A timer's goal was reached (a first reply, a resolution...)."""


class TicketSlaTimerStopped(_TimerChange):
    """A timer stopped without its goal (the ticket was closed or its metric dropped)."""


class TicketSlaSlaWarning(_TimerChange):
    """A running timer passed its warning fraction."""


class TicketSlaSlaBreached(_TimerChange):
    """A running timer passed its due time."""


# Agents.


class AgentRegistered(Schema):
    """An agent was registered."""

    name = text("The agent's name.")
    email = text("The agent's email; their id is derived from it.")
    languages = texts("BCP 47 tags of the languages they answer in.")
    skills = texts("The topics they know.")
    generalist = flag("Whether they take tickets of any topic.")
    capacity = integer("How many tickets they hold at once.")


class AgentAvailabilityChanged(Schema):
    """An agent came online, went away or offline."""

    availability = one_of(AVAILABILITIES, "Their availability now.")


class AgentCapacityChanged(Schema):
    """An agent's capacity changed."""

    capacity = integer("How many tickets they hold at once.")


class AgentLanguagesChanged(Schema):
    """An agent's languages changed."""

    languages = texts("BCP 47 tags of the languages they answer in.")


class AgentSkillsChanged(Schema):
    """An agent's skills changed."""

    skills = texts("The topics they know.")
    generalist = flag("Whether they take tickets of any topic.")


class AgentDeactivated(Schema):
    """An agent was deactivated; the tickets they held went back to the queue."""


class AgentReactivated(Schema):
    """A deactivated agent was reactivated."""


# Customers.


class CustomerIdentityClaimed(Schema):
    """A way of recognising a customer (an email, a phone...) was first bound to them."""

    kind = one_of(IDENTITY_KINDS, "What kind of identity.")
    customer_id = uuid("The customer it now names.")


class CustomerIdentityReclaimed(Schema):
    """A released identity was bound to a customer again."""

    customer_id = uuid("The customer it now names.")


class CustomerIdentityReleased(Schema):
    """An identity was released by its customer's erasure."""


class CustomerErasureErased(Schema):
    """A customer's personal data was erased (their key destroyed)."""

    customer_id = uuid("The customer.")
    ticket_ids = fields.List(
        fields.UUID(), required=True, **_meta("Every ticket whose texts now read [erased].")
    )
    reason = text("Why, as the request gave it.", nullable=True)


# Channels' threads (which ticket a chat conversation or an email thread continues).


class ThreadKeyStarted(Schema):
    """A conversation or message id was bound to the ticket it started."""

    channel = text("The channel.")
    kind = one_of(KEY_KINDS, "A message id or a conversation.")
    ticket_id = uuid("The ticket.")


class ThreadKeyMoved(Schema):
    """A conversation moved on to a new ticket (its ticket was closed)."""

    ticket_id = uuid("The ticket it continues now.")


# Surveys.


class SurveyIssued(Schema):
    """A satisfaction survey was issued for a resolution."""

    ticket_id = uuid("The resolved ticket.")
    customer_id = uuid("Whom it asks.")
    expires_at = instant("When its link stops accepting a rating.")
    language = text("The language to ask in.", nullable=True)
    agent_id = text("The agent credited with the resolution.", nullable=True)
    channel = one_of(CHANNELS, "The ticket's channel.")
    category = text("The ticket's topic.", nullable=True)


class SurveyRated(Schema):
    """The customer rated (or re-rated) the resolution."""

    rating = integer("1 (bad) to 5 (excellent).", validate=validate.Range(min=1, max=5))
    comment = personal("What they wrote.", nullable=True)
    previous_rating = integer("The rating this one replaces.", nullable=True)


class SurveyVoided(Schema):
    """The survey was voided (its ticket was reopened)."""

    reason = text("Why.")


# SLA configuration.


class SlaPoliciesCreated(Schema):
    """The deployment's SLA policy list was started (empty)."""


class SlaPoliciesReplaced(Schema):
    """The SLA policies were replaced as a whole (first match wins)."""

    policies = nested(Policy, "The policies, in order.", many=True)


class CalendarCreated(Schema):
    """A business-hours calendar was created."""

    name = text("Its name, which policies refer to.")
    timezone = text("IANA time zone.")
    always_open = flag("Open around the clock (24/7).")
    weekly = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.List(fields.String())),
        required=True,
        **_meta('Weekday -> open intervals, as ["HH:MM", "HH:MM"] pairs.'),
    )
    holidays = nested(Holiday, "Days closed all day.", many=True)
    closures = nested(Closure, "Days or hours closed once.", many=True)
    seed = fields.Dict(
        required=True,
        allow_none=True,
        **_meta("The country/subdivision/years its holidays were seeded from."),
    )
    tzdata_version = text("The time zone database's version when recorded.", nullable=True)
    holidays_version = text("The holidays package's version when recorded.", nullable=True)


class CalendarRevised(CalendarCreated):
    """A calendar was revised; timers already running keep counting on their revision."""


class CalendarDeleted(Schema):
    """A calendar was deleted."""


# API tokens (their secrets' hashes and seals are never shown).


class ApiTokenIssued(Schema):
    """An API token was issued."""

    token_id = uuid("The token's id.")
    name = text("Its name, for people.")
    role = one_of(ROLES, "What it may do.")
    agent_id = text("The agent it acts as (agent tokens).", nullable=True)
    expires_at = instant("When it stops working; null never.", nullable=True)
    legacy = flag("Imported from the token table of an older version.")
    issued_at = instant("When it was first issued.")
    on_behalf = flag("Whether it may name an agent as a message's author.")


class ApiTokenRotated(Schema):
    """A token's secret was replaced; the old one works until old_valid_until."""

    old_valid_until = instant("When the previous secret stops working.")


class ApiTokenRevoked(Schema):
    """A token was revoked."""

    at = instant("When it stopped working.")


class WebhookRegistryCreated(Schema):
    """The deployment's list of webhook subscriptions was started (empty)."""


class WebhookRegistrySubscribed(Schema):
    """An admin subscribed a URL to events; its signing secret is never shown."""

    subscription_id = uuid("The subscription.")
    url = text("Where the events are delivered.")
    events = texts("The event types delivered (`message_added`, `ticket.opened`), or `*`.")
    description = text("What it is for, for people.", nullable=True)


class WebhookRegistrySecretRotated(Schema):
    """A subscription's signing secret was replaced; deliveries are signed with the old
    one too until previous_valid_until."""

    subscription_id = uuid("The subscription.")
    previous_valid_until = instant("When deliveries stop carrying the old secret's signature.")


class WebhookRegistryUnsubscribed(Schema):
    """An admin deleted a subscription: nothing more is delivered to it."""

    subscription_id = uuid("The subscription.")


class WebhookRegistryDisabled(Schema):
    """Deliveries to a subscription stopped: its receiver failed for too long."""

    subscription_id = uuid("The subscription.")
    reason = text("Why, for the admin who enables it again.")


class WebhookRegistryEnabled(Schema):
    """An admin enabled a disabled subscription again: events from now on are delivered."""

    subscription_id = uuid("The subscription.")


class ArticleText(Schema):
    title = text("The title in this language.")
    body = text("The body in Markdown, as written (rendered with raw HTML escaped).")


class ArticleCreated(Schema):
    """A knowledge-base article was written, as a draft (issue 23)."""

    slug = text("Its address on the public help centre, fixed for its life.")
    source_language = text("The language the others are translated from.")
    translations = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ArticleText),
        required=True,
        **_meta("Its texts, by language."),
    )
    category_id = uuid("Its category.", nullable=True)
    tags = texts("Its tags.")


class ArticleTranslationPut(Schema):
    """An article's text in one language was written or rewritten. Rewriting the source
    language's marks every other translation outdated until it is written again."""

    language = text("The language.")
    title = text("The title in this language.")
    body = text("The body in Markdown, as written.")


class ArticleRecategorised(Schema):
    """An article moved to another category (or to none)."""

    category_id = uuid("Its category now.", nullable=True)


class ArticleRetagged(Schema):
    """An article's tags were replaced."""

    tags = texts("Its tags now.")


class ArticlePublished(Schema):
    """An article became visible on the public help centre and in suggestions."""


class ArticleArchived(Schema):
    """An article was withdrawn from the public help centre and suggestions."""


class ArticleFeedbackGiven(Schema):
    """A visitor of the public help centre said whether a published article helped."""

    article_id = uuid("The article.")
    helpful = flag("Whether it helped.")


class UnansweredSearch(Schema):
    query = text("What was searched, folded, without words holding digits or @.")
    language = text("The language searched in.")
    count = integer("How many times, in this stretch.")


class KbUsageCounted(Schema):
    """What one API worker's public help centre served over a stretch of time."""

    views = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        **_meta("Reads of each published article, by article id."),
    )
    searches = integer("Searches answered.")
    unanswered = nested(UnansweredSearch, "The searches that found nothing.", many=True)
    suggestions_shown = integer("Contact-form suggestion answers that showed an article.")


class KbCategoriesCreated(Schema):
    """The knowledge base's category tree was started (empty)."""


class KbCategoriesAdded(Schema):
    """A category was added to the knowledge base's tree."""

    category_id = uuid("The category.")
    names = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        **_meta("Its name, by language."),
    )
    parent_id = uuid("The category it sits under; null at the top.", nullable=True)


class TicketEmailCreated(Schema):
    """A ticket's email record was started (with its first email's outcome)."""

    ticket_id = uuid("The ticket.")


_EMAIL_KINDS = (REPLY, REMINDER, CLOSE_NOTICE, INVITATION)


class TicketEmailDelivered(Schema):
    """The SMTP server accepted an email for the ticket's requester (2xx)."""

    ticket_id = uuid("The ticket.")
    delivery_id = text("The email's delivery (one per email, the same on every attempt).")
    message_id = uuid("The message it carried (an agent's reply); null for a notice.",
                      nullable=True)  # fmt: skip
    kind = one_of(
        _EMAIL_KINDS,
        "What it was: a reply, a pending reminder, a closing notice, a survey invitation.",
    )
    answer = personal("The SMTP server's answer.")


class TicketEmailDeferred(TicketEmailDelivered):
    """The SMTP server answered 4xx (or none did): the email is tried again at retry_at."""

    retry_at = instant("When it is tried again.", nullable=True)


class TicketEmailBounced(TicketEmailDelivered):
    """A delivery report came back for an email (POST /v1/intake/email): the recipient's
    server refused it after the SMTP server had accepted it."""


class TicketEmailFailed(TicketEmailDelivered):
    """The email will not be sent: the server refused it for good (5xx), the requester has
    no address, or it was refused for ATENDE_MAIL_RETRY_FOR."""
