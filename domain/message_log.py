"""A ticket's messages, oldest first.

A sequence of its own rather than a plain list so persistence can recognise it: a long
ticket's snapshot is mostly its messages, and storing them as rows under one header
(infrastructure/message_rows.py) makes rebuilding the ticket at any version about twice
as fast as storing each message as a JSON object with typed fields of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

# The keys of every message, in the order message rows store them.
MESSAGE_FIELDS = (
    "id",
    "body",
    "author_type",
    "author_id",
    "visibility",
    "channel",
    "created_at",
    "attachments",
    "external_id",
    "outbound",
    "articles",
)

# What a message stored before a field existed had instead (its snapshot rows name the
# fields they hold, so a missing one is told from a null one).
_ADDED_LATER: dict[str, Any] = {
    "attachments": [],
    "external_id": None,
    "outbound": None,
    "articles": [],  # the knowledge-base articles a reply cites (issue 23)
}

Message = dict[str, Any]


def complete_message(message: Message) -> Message:
    """A message with every field of MESSAGE_FIELDS, the later ones as they were before
    they existed."""
    for name, before in _ADDED_LATER.items():
        if name not in message:
            message[name] = list(before) if isinstance(before, list) else before
    return message


class MessageLog(Sequence[Message]):
    __slots__ = ("_messages",)

    def __init__(self, messages: Iterable[Message] = ()):
        self._messages = list(messages)

    def copy(self) -> MessageLog:
        """Another log of the same messages (shared, not copied)."""
        return MessageLog(self._messages)

    def append(self, message: Message) -> None:
        self._messages.append(message)

    @overload
    def __getitem__(self, index: int) -> Message: ...

    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...

    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        return self._messages[index]

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._messages)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MessageLog):
            return self._messages == other._messages
        if isinstance(other, list):
            return self._messages == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it wraps

    def __repr__(self) -> str:
        return f"MessageLog({self._messages!r})"
