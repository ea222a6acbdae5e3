"""The help centre's counts (issue 23), kept in each API worker's memory and recorded as
one ``KbUsage.Counted`` event every ``ATENDE_KB_USAGE_SECONDS`` and when the worker
stops (domain/kb/usage.py says why counts and not an event per read).

A lock guards the counts: a gthread worker answers on several threads at once.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

from infrastructure.search_text import fold, query_words

log = logging.getLogger(__name__)

# An unanswered query is kept as at most this many of its words, each at most this long.
KEPT_WORDS = 8
KEPT_WORD_LENGTH = 40
# Distinct unanswered queries kept per stretch: a flood of random queries must not grow a
# worker's memory or one event without bound (the rest are counted as searches only).
KEPT_QUERIES = 500

_live: weakref.WeakSet[HelpCentreUsage] = weakref.WeakSet()


def anonymous_query(query: str) -> str | None:
    """What an unanswered query is kept as: its words folded (lower case, no accents),
    without any word that holds a digit or an ``@`` (order and phone numbers, addresses);
    None when nothing is left."""
    # Dropped before splitting into words, so "ana@mail.example" goes whole.
    spoken = " ".join(
        token for token in query.split() if not any(c.isdigit() or c == "@" for c in token)
    )
    kept = [fold(word)[:KEPT_WORD_LENGTH] for word in query_words(spoken)]
    return " ".join(kept[:KEPT_WORDS]) or None


class HelpCentreUsage:
    def __init__(self, record: Callable[[dict[str, Any]], None]):
        self._record = record  # KnowledgeBase.record_usage
        self._lock = threading.Lock()
        self._reset()
        _live.add(self)

    def _reset(self) -> None:
        self._views: Counter[str] = Counter()
        self._unanswered: Counter[tuple[str, str]] = Counter()
        self._searches = 0
        self._suggestions_shown = 0

    def viewed(self, article_id: str) -> None:
        with self._lock:
            self._views[article_id] += 1

    def searched(self, query: str, language: str, found: int) -> None:
        kept = None if found else anonymous_query(query)
        with self._lock:
            self._searches += 1
            key = (kept, language)
            if kept and (key in self._unanswered or len(self._unanswered) < KEPT_QUERIES):
                self._unanswered[key] += 1

    def suggested(self) -> None:
        with self._lock:
            self._suggestions_shown += 1

    def flush(self) -> bool:
        """Record what was counted since the last flush as one event (nothing when
        nothing was counted); True when an event was recorded."""
        with self._lock:
            counted = {
                "views": dict(self._views),
                "searches": self._searches,
                "unanswered": [
                    {"query": query, "language": language, "count": count}
                    for (query, language), count in sorted(self._unanswered.items())
                ],
                "suggestions_shown": self._suggestions_shown,
            }
            self._reset()
        if not (counted["views"] or counted["searches"] or counted["suggestions_shown"]):
            return False
        try:
            self._record(counted)
        except Exception:
            # The database is away: put the counts back for the next flush.
            log.exception("could not record the help centre's counts; keeping them")
            self._restore(counted)
            return False
        return True

    def _restore(self, counted: dict[str, Any]) -> None:
        with self._lock:
            self._views.update(counted["views"])
            self._searches += counted["searches"]
            self._suggestions_shown += counted["suggestions_shown"]
            for row in counted["unanswered"]:
                self._unanswered[(row["query"], row["language"])] += row["count"]

    def flush_every(self, seconds: float) -> None:
        """Flush from a daemon thread every ``seconds``; gunicorn's worker_exit hook
        flushes a stopping worker's last counts (flush_all). The thread holds the
        counter weakly, so an app that is dropped (in tests) takes its thread with it."""
        counter = weakref.ref(self)

        def loop() -> None:
            while True:
                time.sleep(seconds)
                usage = counter()
                if usage is None:
                    return
                usage.flush()
                del usage

        threading.Thread(target=loop, name="kb-usage", daemon=True).start()


def flush_all() -> None:
    """Every live counter's last counts (a stopping worker)."""
    for usage in list(_live):
        usage.flush()
