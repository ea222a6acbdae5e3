"""Every event, published to a NATS JetStream stream (issue 22): how systems downstream
scale out without polling ``/v1/events``.

The projector follows the log into the stream like into any view (infrastructure/
projector.py): a batch of events is published, every acknowledgement awaited, and only
then the batch's last position recorded. Each message's id (``Nats-Msg-Id``) is the
event's position, so JetStream drops a message it already holds (within its duplicate
window, two minutes by default). That alone would leave a gap: a publisher killed after
the stream stored a batch but before its position was recorded, and restarted after the
window, would publish the batch again. So where to resume is read from the stream
itself: the position of its newest message, when that is past the recorded one. Every
position is then in the stream once, in order, across any number of restarts.

nats-py is asyncio; the projector's followers are threads. The client runs on an event
loop of its own in a thread that lives as long as the connection, so it answers the
server's pings and reconnects between batches; the follower hands it coroutines and
waits for their results.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import nats
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from projections.stream import StreamMessage

log = logging.getLogger("atende.outbound.nats")

MESSAGE_ID = "Nats-Msg-Id"
CONNECT_TIMEOUT_SECONDS = 3.0
ACK_TIMEOUT_SECONDS = 10.0  # a whole batch's acknowledgements
RECONNECT_ATTEMPTS = 2
RECONNECT_WAIT_SECONDS = 0.5
T = TypeVar("T")


class NatsStream:
    """One connection to NATS, and the stream every event goes to."""

    def __init__(self, url: str, stream: str, subject_prefix: str):
        self.url = url
        self.stream = stream
        self.subjects = [f"{subject_prefix}.>"]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="nats-client", daemon=True
        )
        self._thread.start()
        self._client: Any = None
        self._context: Any = None  # the client's JetStream context, kept: each new one
        # subscribes an inbox of its own for acknowledgements

    # What the follower calls (from its own thread).

    def last_position(self) -> int | None:
        """The position of the newest event the stream holds (None: it holds none)."""
        return self._run(self._last_position())

    def publish(self, messages: Sequence[StreamMessage]) -> None:
        """Publish in order and return once the stream has acknowledged every one;
        raise if any was not."""
        self._run(self._publish(messages), timeout=ACK_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS)

    def close(self) -> None:
        if self._client is not None:
            self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # On the client's loop.

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        # Bounded: connecting gives up well within it (three attempts of 3 s).
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _js(self) -> Any:
        if self._client is None or self._client.is_closed:
            self._client = await nats.connect(
                self.url.split(","),
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                # A blip is ridden out here; a longer outage fails the batch, which the
                # projector records (health shows it) and retries every second with a
                # new connection. Reconnecting for ever inside the client would hide
                # the outage and block the follower.
                max_reconnect_attempts=RECONNECT_ATTEMPTS,
                reconnect_time_wait=RECONNECT_WAIT_SECONDS,
                error_cb=_quietly,
                name="atende-projector",
            )
            self._context = None
        if self._context is None:
            context = self._client.jetstream(timeout=ACK_TIMEOUT_SECONDS)
            await self._ensure_stream(context)
            self._context = context
        return self._context

    async def _ensure_stream(self, js: Any) -> None:
        """Create the stream on first use; an existing one is left as its operator
        configured it (retention, replicas, limits are theirs to choose)."""
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(StreamConfig(name=self.stream, subjects=self.subjects))
            log.info("created NATS stream %s for %s", self.stream, ", ".join(self.subjects))

    async def _last_position(self) -> int | None:
        js = await self._js()
        info = await js.stream_info(self.stream)
        if not info.state.messages:
            return None
        newest = await js.get_msg(self.stream, seq=info.state.last_seq)
        return int((newest.headers or {}).get(MESSAGE_ID, 0)) or None

    async def _publish(self, messages: Sequence[StreamMessage]) -> None:
        js = await self._js()
        # One connection carries them in order, and JetStream stores them in the order
        # it receives them; acknowledgements are awaited together, not one round trip
        # each.
        try:
            acks = [
                await js.publish_async(m.subject, m.payload, headers={MESSAGE_ID: m.message_id})
                for m in messages
            ]
            await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_SECONDS)
        except Exception:
            # The stream may be gone (an operator deleted it): the next attempt looks
            # for it again, and creates it.
            self._context = None
            raise


async def _quietly(error: Exception) -> None:
    """The client's own report of each failed attempt: one line, not a traceback every
    half second; the projector logs the failure that matters once a minute."""
    log.debug("NATS client: %r", error)
