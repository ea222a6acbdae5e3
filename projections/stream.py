"""The event stream's projection: every event of the log becomes one message, on the
subject ``<prefix>.<aggregate_type>.<type>``, with the event's position as its id and the
event as the feed shows it as its body (the typed catalogue, docs/events.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from projections.base import RowProjection, RowView


@dataclass(frozen=True)
class StreamMessage:
    subject: str
    message_id: str  # the event's position: what the stream deduplicates on
    payload: bytes


# The event as the feed shows it (interface/http/schemas/events.py), given the domain
# event and its position: the wiring point hands it in, since that shape is the HTTP
# contract's and projections know nothing of it.
FeedShape = Callable[[Any, int], dict[str, Any]]


class StreamProjection(RowProjection[StreamMessage]):
    name = "stream"

    def __init__(self, view: RowView[StreamMessage], shape: FeedShape, subject_prefix: str):
        super().__init__(view)
        self.shape = shape
        self.subject_prefix = subject_prefix

    def changes(self, domain_event: Any, position: int) -> list[StreamMessage]:
        event = self.shape(domain_event, position)
        subject = f"{self.subject_prefix}.{event['aggregate_type']}.{event['type']}"
        payload = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        return [StreamMessage(subject, str(position), payload)]
