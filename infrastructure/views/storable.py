"""Text every view can store, whatever the events hold.

PostgreSQL refuses NUL in text, and neither driver encodes a lone surrogate to UTF-8. The
HTTP boundary refuses both now, but events written before it did still hold them, and a
view that cannot store an event's row would retry it forever. So every change a view
applies passes through ``storable`` first: each such character becomes U+FFFD, the
Unicode replacement character (visible, and two values that differ by it stay distinct).
The event itself is left as it is; the same replacement on both databases, in a live
view and in a rebuild, keeps them identical.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced (the same object when it has none)."""
    if text.isascii():
        # The common case, and only NUL can be wrong in it.
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable(value: Any) -> Any:
    """``value`` with every text inside it (dict keys and values, lists, tuples, named
    tuples, dataclasses) made storable; anything else is returned as it is."""
    kind = type(value)
    if kind is str:
        return storable_text(value)
    if kind is dict:
        return {storable(k): storable(v) for k, v in value.items()}
    if kind is list:
        return [storable(v) for v in value]
    if kind is tuple:
        return tuple(storable(v) for v in value)
    if isinstance(value, tuple) and hasattr(kind, "_make"):  # a NamedTuple
        return kind._make(storable(v) for v in value)
    if kind in (set, frozenset):
        return kind(storable(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: storable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changed)
    return value
