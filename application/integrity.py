"""The side tables that change what Atende serves or who may do what, checked by audit
verify beside the hash chain: API tokens and idempotency answers (sealed rows) and customer
keys (a key destroyed without an erasure event is a silent erasure), and the access log's
keyed hash chain (a row deleted, edited or inserted by hand breaks it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.audit_chain import Break
from domain.erasure import erasure_id


def side_table_break(
    tokens: Any,  # application.tokens.ApiTokens
    keys: Any,  # infrastructure.crypto.KeyRing
    recorded: Callable[[UUID], bool],  # whether an aggregate is in the event log
    idempotency: Any = None,  # infrastructure.idempotency.SqlIdempotencyStore
    customers: Callable[[], set[UUID]] = set,  # every customer with a ticket
    access_log: Any = None,  # infrastructure.access_log.AccessLog
    numbers: Any = None,  # infrastructure.ticket_numbers.TicketNumbers
) -> Break | None:
    """The first row of a side table that Atende did not write as it stands."""
    for token_id in tokens.unsealed_rows():
        return Break(f"API token {token_id} was not written by Atende (its seal does not match)")
    for answer in [] if idempotency is None else idempotency.unsealed_rows():
        return Break(f"idempotency answer {answer} was not written by Atende (its seal does "
                     "not match, or it predates seals)")  # fmt: skip
    for customer in keys.customers_without_key(customers()):
        return Break("customer key row missing (deleted without an erasure event)",
                     aggregate_id=customer)  # fmt: skip
    for customer in keys.shredded_customers():
        if not recorded(erasure_id(customer)):
            return Break(
                "customer key destroyed without an erasure event (silent erasure)",
                aggregate_id=customer,
            )
    # Ticket numbers: the n-th ticket opened (by position) is number n, no gaps.
    broken = None if numbers is None else numbers.first_break()
    if broken is not None:
        return broken
    return None if access_log is None else access_log.first_break()
