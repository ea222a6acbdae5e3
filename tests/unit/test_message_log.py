"""A ticket's messages as a sequence of their own, and the guard on their stored rows."""

from __future__ import annotations

import pytest

from domain.message_log import MESSAGE_FIELDS, MessageLog
from infrastructure.message_rows import MessageLogAsRows


def _message(n: int) -> dict:
    return {name: f"{name}-{n}" for name in MESSAGE_FIELDS}


def test_a_message_log_reads_like_the_list_of_its_messages():
    log = MessageLog([_message(1)])
    log.append(_message(2))
    assert len(log) == 2
    assert log[-1] == _message(2)
    assert log[0:1] == [_message(1)]
    assert [m["id"] for m in log] == ["id-1", "id-2"]
    assert log == [_message(1), _message(2)]
    assert log == MessageLog([_message(1), _message(2)])
    assert log != [_message(1)]
    assert not MessageLog()


def test_a_message_log_is_not_hashable_because_it_grows():
    with pytest.raises(TypeError):
        hash(MessageLog())


def test_storing_a_message_with_a_field_rows_do_not_know_is_refused_not_dropped():
    message = {**_message(1), "reaction": "👍"}
    rows = MessageLogAsRows(personal=None)  # refused before any body is sealed
    with pytest.raises(ValueError, match="MESSAGE_FIELDS"):
        rows.encode(MessageLog([message]))
