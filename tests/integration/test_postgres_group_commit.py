"""On PostgreSQL the event writes a process has waiting share one transaction, one lock
of the events table and one COMMIT (infrastructure/postgres_group_commit.py). A batch the
database refuses any part of is redone write by write, so each write is answered as
itself; the hash chain and the ticket numbers read as if the writes had come one by one."""

from __future__ import annotations

import pytest

from application.errors import DuplicateExternalRef
from domain.customer import Contact
from interface.wiring import bootstrap
from tests.integration.builders import AGENT, open_ticket
from tests.integration.group_commits import queued_all_at_once
from tests.integration.test_sla import configure

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

WRITERS = 8


@pytest.fixture
def batches(atende) -> list[int]:
    """How many writes each transaction of the recorder's group commit wrote."""
    open_ticket(atende)  # the customer's key and claim exist; the group commit too
    group = atende.tickets.recorder._group_commit
    write = group._write
    sizes: list[int] = []

    def counted(writes):
        sizes.append(len(writes))
        return write(writes)

    group._write = counted
    return sizes


def _queued_openings(atende, per_writer: dict[int, dict] | None = None) -> list[object]:
    """WRITERS tickets opened at once, behind the group's turn; each one's outcome.
    ``per_writer`` maps a writer's index to its open_ticket overrides."""
    outcomes: list[object] = [None] * WRITERS

    def opening(i: int):
        def run() -> None:
            try:
                outcomes[i] = open_ticket(atende, **(per_writer or {}).get(i, {}))
            except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
                outcomes[i] = error

        return run

    queued_all_at_once(atende.tickets.recorder._group_commit, [opening(i) for i in range(WRITERS)])
    return outcomes


def _numbers(atende, outcomes: list[object]) -> list[int]:
    return sorted(atende.tickets.number_of(o.ticket.id) for o in outcomes)


def test_tickets_queued_at_once_are_written_in_one_transaction_and_chained_one_by_one(
    atende, batches
):
    outcomes = _queued_openings(atende)

    assert batches == [WRITERS]
    assert _numbers(atende, outcomes) == list(range(2, WRITERS + 2))
    assert all(o.number == atende.tickets.number_of(o.ticket.id) for o in outcomes)
    # Each answer's position (read-your-writes) is where its own ticket's event landed.
    recorder = atende.tickets.recorder
    assert all(o.position == recorder.position_of(o.ticket.id, o.ticket.version) for o in outcomes)
    assert len({o.position for o in outcomes}) == WRITERS
    report = atende.audit.verify()
    assert report.ok and report.checked > WRITERS


def test_a_refused_write_in_a_batch_is_refused_alone_and_the_others_land(atende, batches):
    open_ticket(atende, external_ref="taken")
    batches.clear()

    outcomes = _queued_openings(atende, {3: {"external_ref": "taken"}})

    # Refused as a whole, then redone write by write (the refused one retried on its own
    # by the application, which then finds the reference taken).
    assert batches[0] == WRITERS and set(batches[1:]) == {1} and len(batches) > WRITERS
    assert isinstance(outcomes[3], DuplicateExternalRef), outcomes[3]
    landed = [o for i, o in enumerate(outcomes) if i != 3]
    assert _numbers(atende, landed) == list(range(3, WRITERS + 2))  # none taken twice
    assert atende.audit.verify().ok
    opened = [e for e in atende.tickets.events_after(0, 1000) if e.aggregate_type == "ticket"]
    assert len({e.ticket_id for e in opened}) == WRITERS + 1  # nothing of the refused one


def test_a_batch_whose_assumed_policies_went_stale_is_redone_on_fresh_reads(atende, settings):
    configure(atende, targets={"first_response": 3600, "resolution": 28800})
    open_ticket(atende)  # the policies are kept here, and assumed unasked from now on
    other = bootstrap(settings)
    try:
        batches: list[int] = []
        group = atende.tickets.recorder._group_commit
        write = group._write

        def changed_elsewhere_first(writes):
            if not batches:  # another process changes the policies under the batch
                configure(other, targets={"first_response": 600, "resolution": 7200})
            batches.append(len(writes))
            return write(writes)

        group._write = changed_elsewhere_first
        outcomes = _queued_openings(atende)
    finally:
        other.close()

    assert batches[0] == WRITERS and len(batches) > 1  # the stale batch was not committed
    sla = atende.tickets.sla
    assert {sla.ticket_sla(o.ticket.id).timer("first_response")["target"] for o in outcomes} == {
        600
    }
    assert _numbers(atende, outcomes) == list(range(2, WRITERS + 2))
    assert atende.audit.verify().ok


def test_writes_to_one_ticket_queued_at_once_are_not_batched_together(atende, batches):
    ticket = open_ticket(atende).ticket.id
    version = atende.tickets.get_ticket(ticket).version
    batches.clear()
    outcomes: list[object] = []

    def tag(label: str):
        def run() -> None:
            try:
                tagged = atende.ticket_commands.change_tags(ticket, add=[label], actor=AGENT)
                outcomes.append(tagged)
            except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
                outcomes.append(error)

        return run

    queued_all_at_once(atende.tickets.recorder._group_commit, [tag("a"), tag("b"), tag("c")])

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    # Each was built on the same version: written together, two would be refused.
    assert set(batches) == {1}
    assert atende.tickets.get_ticket(ticket).version == version + 3
    assert atende.audit.verify().ok


def test_customers_never_seen_before_are_batched_with_their_identity_claims(atende, batches):
    outcomes = _queued_openings(
        atende,
        {i: {"contact": Contact(name=f"Nueva {i}", email=f"nueva{i}@example.com")}
         for i in range(WRITERS)},
    )  # fmt: skip

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(batches) == WRITERS and len(batches) < WRITERS
    assert len({o.ticket.customer_id for o in outcomes}) == WRITERS
    assert atende.audit.verify().ok
