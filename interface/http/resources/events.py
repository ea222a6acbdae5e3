"""The global event feed, for downstream systems: every event after a position."""

from __future__ import annotations

import falcon

from interface.container import Atende
from interface.http.middleware.auth import FEED_READERS, allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.personal_reads import event_feed, logs_read
from interface.http.schemas.events import EventFeedOut, EventOut, EventsQuery

_QUERY = EventsQuery()
_EVENTS_OUT = EventOut(many=True)


class EventFeed:
    def __init__(self, atende: Atende):
        self.atende = atende
        self.access_log = atende.access_log  # for @logs_read

    @falcon.before(allow(*FEED_READERS))
    @logs_read(event_feed)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _QUERY.load(req.params)
        events = self.atende.tickets.events_after(query["after"], query["limit"])
        last = events[-1].position if events else query["after"]
        resp.media = {
            "events": _EVENTS_OUT.dump(events),
            "next_after": last,
            "head": self.atende.tickets.head_position(),
        }


OPERATIONS: Operations = {
    ("/v1/events", "get"): Operation(
        "The global event feed: every event after a position",
        "events",
        FEED_READERS,
        EventFeedOut,
        query=EventsQuery,
    ),
}
