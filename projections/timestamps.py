"""How views store instants."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(moment: datetime) -> str:
    """UTC, fixed width, so text order is time order in every database."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
