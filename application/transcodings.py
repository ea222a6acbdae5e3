"""How domain value objects are written into stored events."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Transcoding

from domain.actor import Actor


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> Actor:
        return Actor(**data)
