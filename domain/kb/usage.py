"""What the public help centre served, counted (issue 23): article views, searches and
the ones that found nothing, and contact-form suggestions shown.

A count, not an event per page view: a help centre answers far more reads than the
helpdesk records changes, and an event each would put every anonymous GET on the write
path. Each API worker counts in memory and records what it counted as one ``Counted``
event every ``ATENDE_KB_USAGE_SECONDS`` and when it stops, so the report is still a
projection of the log (a rebuild gives what the live one shows). A worker killed with
-9 loses at most that stretch's counts: these are measures, not records of anyone's
action.

Queries are kept only when nothing was found (the catalogue's gaps), folded to lower
case without accents, with every word holding a digit or an ``@`` dropped: visitors
type order numbers, phone numbers and addresses into search boxes, and this log is
never erased.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.kb.feedback import VISITOR


class KbUsage(Aggregate):
    @event("Counted")
    def __init__(
        self,
        views: dict[str, int],
        searches: int,
        unanswered: list[dict[str, Any]],
        suggestions_shown: int,
        actor: Actor = VISITOR,
    ) -> None:
        # views: article id -> reads of the article; unanswered: {query, language, count}.
        self.views = dict(views)
        self.searches = searches
        self.unanswered = list(unanswered)
        self.suggestions_shown = suggestions_shown
