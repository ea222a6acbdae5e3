"""A view whose batches change nothing writes its position at most once a second while
events stream in, and at once when it reaches the head of the log; stopped before that,
it reads those events again and they change nothing again."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from infrastructure.projector import ViewFollower
from projections.webhooks import WebhookDeliveryProjection
from tests.integration.builders import open_ticket


def _quiet_follower(atende) -> ViewFollower:
    # No webhook subscription: no event of a ticket changes the outbox.
    projection = WebhookDeliveryProjection(atende.webhook_deliveries)
    return ViewFollower(atende.tickets, projection, batch_size=2, quiet_seconds=3600)


def _recorded(atende) -> int:
    return atende.webhook_deliveries.max_tracking_id(atende.tickets.name) or 0


def test_a_view_that_nothing_changes_writes_its_position_once_then_at_the_head(atende):
    positions = [open_ticket(atende).position for _ in range(5)]
    follower = _quiet_follower(atende)

    follower.step()  # the first batch's position is written: none was yet
    first = _recorded(atende)
    follower.step()
    follower.step()

    assert first > 0
    assert _recorded(atende) == first  # two batches on, still unwritten
    assert follower.position() > first  # though the follower has read them
    assert follower.step() == 0  # the head of the log
    assert _recorded(atende) == atende.tickets.head_position() >= positions[-1]


def test_a_view_stopped_before_writing_its_position_reads_the_events_again(atende):
    for _ in range(5):
        open_ticket(atende)
    quiet = _quiet_follower(atende)
    quiet.step()
    quiet.step()  # read, unwritten: then the process stops
    written = _recorded(atende)

    again = _quiet_follower(atende)

    assert again.position() == written < quiet.position()
    again.catch_up()
    assert _recorded(atende) == atende.tickets.head_position()
    assert atende.webhook_deliveries.deliveries("any", status=None, before=None, limit=10) == []



def test_a_follower_whose_view_another_process_moved_past_its_unwritten_position_recovers(
    atende,
):
    """A view's position only moves forwards: a write behind it is refused. A follower
    holding a quiet position in memory must then read the view's position again, not
    fail on the same write every second."""
    for _ in range(5):
        open_ticket(atende)
    behind = _quiet_follower(atende)
    behind.step()  # written: the first
    behind.step()  # read, unwritten
    _quiet_follower(atende).catch_up()  # another projector brings the view to the head
    head = atende.tickets.head_position()
    while behind.position() < head:  # the rest of the log, quiet, read to its head,
        behind.step()  # where it is written at once...

    with pytest.raises(IntegrityError):  # ...which the view is already at
        behind.step()

    assert behind.position() == head == _recorded(atende)
    assert behind.step() == 0  # and it carries on
