"""Every event published to a real NATS JetStream stream (issue 22, item 8): once, in
order, as the feed shows it, on ``<prefix>.<aggregate_type>.<type>`` with the position as
the message id; a projector killed with SIGKILL in the middle of a backlog leaves no
position out and none twice once its master has started another."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e.api import Api
from tests.e2e.drills import eventually, feed, projector_pids
from tests.e2e.server import Server, free_port, running_server
from tests.nats_stream import StreamUnderTest, count, fresh_stream, messages

BACKLOG_TICKETS = 600


def _until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Looks far more often than ``eventually``: the kill must land mid-backlog."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.005)


@pytest.fixture
def backend(server: Server) -> str:
    return "sqlite" if server.database_url.startswith("sqlite") else "postgres"


@pytest.fixture
def stream() -> Iterator[StreamUnderTest]:
    with fresh_stream() as made:
        yield made


def _assert_stream_is_the_feed(stream: StreamUnderTest, reader: Api) -> None:
    fed = list(feed(reader))
    eventually(lambda: count(stream) >= len(fed), f"{len(fed)} events in the stream")
    published = messages(stream)
    positions = [m.message_id for m in published]
    assert positions == [str(event["position"]) for event in fed]  # each once, in order
    for message, event in zip(published, fed, strict=True):
        assert message.subject == (
            f"{stream.subject_prefix}.{event['aggregate_type']}.{event['type']}"
        )
        assert message.event == event


def test_every_event_is_published_once_in_order_as_the_feed_shows_it(
    backend: str, stream: StreamUnderTest, tmp_path: Path
):
    with running_server(backend, tmp_path, workers=1, env=stream.env()) as running:
        api = Api(running.base_url, running.create_token("integrator", "stream"))
        opened = [api.open_ticket() for _ in range(3)]
        reply = api.command(
            opened[0]["id"],
            "messages",
            {"body": "Hola", "author_type": "customer", "visibility": "public"},
        )
        assert reply.status_code == 200, reply.text
        assert api.command(opened[1]["id"], "resolve", {"resolution": "listo"}).status_code == 200

        reader = Api(running.base_url, running.create_token("auditor", "stream-reader"))
        _assert_stream_is_the_feed(stream, reader)
        subjects = {m.subject for m in messages(stream)}
        assert f"{stream.subject_prefix}.ticket.opened" in subjects
        assert f"{stream.subject_prefix}.ticket.message_added" in subjects
        # Health and status name the stream like a view: how far it has got.
        health = requests.get(f"{running.base_url}/v1/health", timeout=10).json()
        assert health["projector"]["lag"]["outbound_nats"] == 0
        assert health["projector"]["failing"] == {}


def test_an_unreachable_nats_fails_the_stream_in_health_and_nothing_else(
    backend: str, tmp_path: Path
):
    nowhere = {"ATENDE_NATS_URL": f"nats://127.0.0.1:{free_port()}"}
    with running_server(backend, tmp_path, workers=1, env=nowhere) as running:
        api = Api(running.base_url, running.create_token("integrator", "no-nats"))
        opened = api.open_ticket()  # commands never wait on an outbound destination
        queue = api.get("/v1/queue", params={"after_position": opened["position"]})
        assert queue.status_code == 200, queue.text

        def failing() -> dict:
            health = requests.get(f"{running.base_url}/v1/health", timeout=10).json()
            return health["projector"]["failing"]

        failure = eventually(lambda: failing().get("outbound_nats"), "the stream failing")
        assert failure["attempts"] >= 1
        assert set(failing()) == {"outbound_nats"}  # the views are fine


def test_a_publisher_killed_mid_backlog_leaves_every_position_in_the_stream_once(
    backend: str, stream: StreamUnderTest, tmp_path: Path
):
    with running_server(backend, tmp_path, workers=1) as running:
        api = Api(running.base_url, running.create_token("integrator", "backlog"))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: api.open_ticket(), range(BACKLOG_TICKETS)))
        reader = Api(running.base_url, running.create_token("auditor", "backlog-reader"))
        # Counted, not the head's position: PostgreSQL's positions have gaps where a
        # transaction rolled back.
        backlog = len(list(feed(reader)))

        # The same database, now with the stream: the projector publishes the backlog
        # one event a batch, so there is time to kill it in the middle.
        running.stop()
        running.env.update({**stream.env(), "ATENDE_PROJECTOR_BATCH_SIZE": "1"})
        running.start(workers=1)
        master = running.process.pid
        _until(lambda: count(stream) >= 20, "the backlog being published")
        for projector in projector_pids(master):
            os.kill(projector, signal.SIGKILL)
        published_when_killed = count(stream)
        assert published_when_killed < backlog, "the backlog was all published before the kill"

        eventually(lambda: count(stream) >= backlog, "the rest of the backlog", seconds=90)
        _assert_stream_is_the_feed(stream, reader)
