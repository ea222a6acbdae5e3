"""Which events a subscription takes, when, and how long a failed delivery waits."""

from __future__ import annotations

from datetime import timedelta

from domain.webhook import matches
from infrastructure.outbound.outbox import RetryPolicy
from projections.webhooks import Followed


def test_a_type_alone_matches_it_on_every_aggregate_and_with_its_aggregate_only_there():
    assert matches(["opened"], "ticket", "opened")
    assert matches(["opened"], "calendar", "opened")
    assert matches(["ticket.opened"], "ticket", "opened")
    assert not matches(["ticket.opened"], "calendar", "opened")
    assert matches(["*"], "api_token", "issued")
    assert not matches(["message_added"], "ticket", "opened")


def test_a_subscription_takes_the_events_after_it_was_made_and_before_it_was_deleted():
    followed = Followed("s", ("*",), since=10, until=20)
    assert [p for p in (9, 10, 11, 19, 20, 21) if followed.wants(p, "ticket", "opened")] == [
        11,
        19,
    ]
    assert Followed("s", ("*",), since=10).wants(10_000, "ticket", "opened")


def test_a_failed_delivery_waits_twice_as_long_each_time_up_to_an_hour():
    policy = RetryPolicy(first_wait=timedelta(seconds=10))
    waits = [policy.wait_after(n).total_seconds() for n in (1, 2, 3, 4, 10, 20)]
    assert waits == [10, 20, 40, 80, 3600, 3600]


def test_the_names_read_from_a_topic_are_the_feeds_for_every_event_type():
    """The outboxes skip decoding by topic (projections/webhooks.topic_names): for every
    catalogued type it must name the event as the feed does."""
    from eventsourcing.utils import get_topic

    from interface.events.catalogue import CATALOGUE
    from projections.webhooks import topic_names

    for entry in CATALOGUE:
        assert topic_names(get_topic(entry.event_class)) == (entry.aggregate_type, entry.type)
