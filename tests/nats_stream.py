"""A JetStream stream of its own for each test, read back message by message, deleted
after. Tests talk to the real NATS server (ATENDE_TEST_NATS_URL, default the machine's
127.0.0.1:4222) and fail loudly, never skip, when it is not there."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

NATS_URL = os.environ.get("ATENDE_TEST_NATS_URL", "nats://127.0.0.1:4222")


@dataclass(frozen=True)
class StreamUnderTest:
    name: str
    subject_prefix: str

    def env(self) -> dict[str, str]:
        return {
            "ATENDE_NATS_URL": NATS_URL,
            "ATENDE_NATS_STREAM": self.name,
            "ATENDE_NATS_SUBJECT_PREFIX": self.subject_prefix,
        }


@dataclass(frozen=True)
class StreamedMessage:
    sequence: int
    subject: str
    message_id: str
    event: dict[str, Any]


@contextmanager
def fresh_stream(duplicate_window: float | None = None) -> Iterator[StreamUnderTest]:
    """Names no other run uses (two streams' subjects may not overlap on one server).
    With ``duplicate_window``, the stream is made here with that window (seconds), as
    an operator would; otherwise Atende makes it."""
    token = uuid.uuid4().hex[:12]
    stream = StreamUnderTest(f"ATENDE_TEST_{token}", f"atende-test-{token}")
    if duplicate_window is not None:
        config = StreamConfig(
            name=stream.name,
            subjects=[f"{stream.subject_prefix}.>"],
            duplicate_window=duplicate_window,
        )
        _run(lambda js: js.add_stream(config))
    try:
        yield stream
    finally:
        _run(lambda js: _delete(js, stream.name))


def messages(stream: StreamUnderTest) -> list[StreamedMessage]:
    """Every message the stream holds, in the stream's order ([] when it has none)."""
    return _run(lambda js: _messages(js, stream.name))


def count(stream: StreamUnderTest) -> int:
    async def last(js: Any) -> int:
        try:
            return (await js.stream_info(stream.name)).state.messages
        except NotFoundError:
            return 0

    return _run(last)


async def _messages(js: Any, name: str) -> list[StreamedMessage]:
    try:
        state = (await js.stream_info(name)).state
    except NotFoundError:
        return []
    found = []
    for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        message = await js.get_msg(name, sequence)
        found.append(
            StreamedMessage(
                sequence,
                message.subject,
                (message.headers or {}).get("Nats-Msg-Id", ""),
                json.loads(message.data),
            )
        )
    return found


async def _delete(js: Any, name: str) -> None:
    with suppress(NotFoundError):
        await js.delete_stream(name)


def _run(work: Any) -> Any:
    async def session() -> Any:
        try:
            client = await nats.connect(NATS_URL, connect_timeout=3, max_reconnect_attempts=0)
        except Exception as error:  # noqa: BLE001 - named in the failure
            pytest.fail(
                f"NATS is not reachable at {NATS_URL} ({error!r}); the stream tests need "
                "NATS with JetStream (nats-server -js)",
                pytrace=False,
            )
        try:
            return await work(client.jetstream())
        finally:
            await client.close()

    return asyncio.run(session())
