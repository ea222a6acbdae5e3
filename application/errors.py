"""Errors the application raises; the HTTP layer maps each to a status code."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError


class TicketNotFound(Exception):
    def __init__(self, ticket_id: UUID):
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class DuplicateExternalRef(Exception):
    def __init__(self, external_ref: str, ticket_id: UUID):
        super().__init__(f"external_ref {external_ref!r} already belongs to ticket {ticket_id}")
        self.external_ref = external_ref
        self.ticket_id = ticket_id


class StaleVersion(Exception):
    """The caller's expected version (If-Match) is not the ticket's current one."""

    def __init__(self, expected: int, current: int):
        super().__init__(f"expected version {expected}, the ticket is at version {current}")
        self.expected = expected
        self.current = current


class ConcurrentWriteConflict(Exception):
    """Other writers kept changing the ticket while this command was retried."""


class CompanionTaken(IntegrityError):
    """A command's write was refused because an aggregate it was to start alongside the
    ticket (a message's thread key) already exists: the same contact was stored before.
    Not a race to retry: nothing of the write was stored, and reading again finds it."""

    def __init__(self, aggregate_id: UUID):
        super().__init__(f"aggregate {aggregate_id} already exists")
        self.aggregate_id = aggregate_id


class CalendarNotFound(Exception):
    def __init__(self, name: str):
        super().__init__(f"calendar {name!r} not found")
        self.name = name


class CalendarInUse(Exception):
    """A calendar that SLA policies still count in cannot be deleted."""

    def __init__(self, name: str, policies: list[str]):
        super().__init__(f"calendar {name!r} is used by the SLA policies {policies}")
        self.name = name
        self.policies = policies


class InvalidHolidaySeed(Exception):
    """The holiday source does not know the country, subdivision or category asked for."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AgentNotFound(Exception):
    def __init__(self, agent_id: object):
        super().__init__(f"agent {agent_id} not found")
        self.agent_id = agent_id


class DuplicateAgent(Exception):
    """An agent with this email is already registered."""

    def __init__(self, agent_id: object):
        super().__init__(f"an agent with this email is already registered as {agent_id}")
        self.agent_id = agent_id


class AgentUnavailable(Exception):
    """Tickets go to online, active agents unless the caller forces it."""

    def __init__(self, agent_id: object, why: str):
        super().__init__(
            f'agent {agent_id} is {why}; pass "force": true to assign the ticket anyway'
        )
        self.agent_id = agent_id
        self.why = why


class SurveyNotFound(Exception):
    """No survey answers to this token (unknown, malformed, or for another survey)."""

    def __init__(self) -> None:
        super().__init__("no survey answers to this link")


class CustomerNotFound(Exception):
    def __init__(self, customer_id: UUID):
        super().__init__(f"customer {customer_id} not found")
        self.customer_id = customer_id


class TokenNotFound(Exception):
    def __init__(self, token_id: object):
        super().__init__(f"token {token_id} not found")
        self.token_id = token_id


class InvalidToken(Exception):
    """A field of a token request that the schema cannot judge alone."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidWebhook(Exception):
    """A field of a webhook subscription that the schema cannot judge alone (an address
    that resolves to a private network, an unknown event type)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class WebhookDeliveryNotFound(Exception):
    def __init__(self, delivery_id: object):
        super().__init__(f"webhook delivery {delivery_id} not found")
        self.delivery_id = delivery_id
