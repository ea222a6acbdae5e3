"""Where the stream publisher resumes (infrastructure/outbound): after a crash between
the stream storing a batch and the batch's position being recorded, the batch is not
published again, even once JetStream's duplicate window (which would have dropped the
copies) has passed; and a batch the stream refused is published again whole."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from infrastructure.outbound.nats_stream import NatsStream
from infrastructure.outbound.stream_view import StreamView, stream_tracking
from infrastructure.projector import ViewFollower
from interface.http.schemas.events import event_as_fed
from projections.stream import StreamProjection
from tests.integration.builders import open_ticket
from tests.nats_stream import NATS_URL, StreamUnderTest, fresh_stream, messages

DUPLICATE_WINDOW_SECONDS = 0.5


class CrashAfterPublishing(StreamView):
    """Publishes, then dies before recording the position, as a SIGKILL would."""

    def apply(self, changes, tracking):
        self.stream.publish(changes)
        raise SystemExit("killed between publishing and recording")


@pytest.fixture
def stream() -> Iterator[StreamUnderTest]:
    with fresh_stream(duplicate_window=DUPLICATE_WINDOW_SECONDS) as made:
        yield made


@pytest.fixture
def connections() -> Iterator[list[NatsStream]]:
    made: list[NatsStream] = []
    yield made
    for connection in made:
        connection.close()


def _follower(atende, stream: StreamUnderTest, opened: list, view_class=StreamView) -> ViewFollower:
    connection = NatsStream(NATS_URL, stream.name, stream.subject_prefix)
    opened.append(connection)  # closed by the connections fixture
    tracking = stream_tracking(atende.db.datastore)
    tracking.create_table()
    view = view_class(tracking, connection)
    projection = StreamProjection(view, event_as_fed, stream.subject_prefix)
    return ViewFollower(atende.tickets, projection)


def _positions(stream: StreamUnderTest) -> list[int]:
    return [int(m.message_id) for m in messages(stream)]


def test_a_batch_stored_but_not_recorded_is_not_published_again_after_the_window(
    atende, stream, connections
):
    for _ in range(3):
        open_ticket(atende)
    head = atende.tickets.head_position()

    crashing = _follower(atende, stream, connections, CrashAfterPublishing)
    with pytest.raises(SystemExit):
        crashing.step()
    assert _positions(stream)[-1] == head  # stored; the position was never recorded
    assert crashing.view.tracking.max_tracking_id(atende.tickets.name) is None
    time.sleep(DUPLICATE_WINDOW_SECONDS * 3)  # JetStream would no longer drop copies

    open_ticket(atende)
    restarted = _follower(atende, stream, connections)
    restarted.catch_up()

    fed = [event.position for event in atende.tickets.events_after(0, 1000)]
    assert _positions(stream) == fed  # every position once, in order
    assert restarted.view.tracking.max_tracking_id(atende.tickets.name) == fed[-1]


def test_the_stream_holds_each_event_as_the_feed_shows_it(atende, stream, connections):
    ticket = open_ticket(atende)
    follower = _follower(atende, stream, connections)
    follower.catch_up()

    (message,) = [m for m in messages(stream) if m.event["type"] == "opened"]
    assert message.subject == f"{stream.subject_prefix}.ticket.opened"
    assert message.event["aggregate_id"] == str(ticket.ticket.id)
    assert message.event == event_as_fed(
        atende.tickets.mapper.to_domain_event(
            atende.tickets.recorder.select_notifications(start=int(message.message_id), limit=1)[0]
        ),
        int(message.message_id),
    )
