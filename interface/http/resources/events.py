"""The global event feed, for downstream systems: every event after a position."""

from __future__ import annotations

import falcon

from application.ports import FeedsEvents
from interface.http.middleware.auth import FEED_READERS, allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.personal_reads import RecordsReads, event_feed, logs_read
from interface.http.schemas.events import EventFeedOut, EventOut, EventsQuery

_QUERY = EventsQuery()
_EVENTS_OUT = EventOut(many=True)


class EventFeed:
    def __init__(self, *, feed: FeedsEvents, access_log: RecordsReads):
        self.feed = feed
        self.access_log = access_log

    @falcon.before(allow(*FEED_READERS))
    @logs_read(event_feed)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _QUERY.load(req.params)
        events = self.feed.events_after(query["after"], query["limit"])
        last = events[-1].position if events else query["after"]
        resp.media = {
            "events": _EVENTS_OUT.dump(events),
            "next_after": last,
            "head": self.feed.head_position(),
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
