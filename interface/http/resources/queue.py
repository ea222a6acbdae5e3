"""``GET /v1/queue``: active tickets, most urgent first, filtered and paginated."""

from __future__ import annotations

import falcon

from application.ports import LogHead
from domain.actor import ROLES
from interface.http.consistency import wait_if_asked
from interface.http.cursor import decode_cursor, encode_cursor
from interface.http.middleware.auth import ME, allow, own_agent, sees_personal_data
from interface.http.openapi.operation import Operation, Operations
from interface.http.personal_reads import RecordsReads, logs_read, queue
from interface.http.representations import impersonal_queue_item
from interface.http.schemas.queue import QueuePageOut, QueueQueryIn
from projections.queue import FILTERS, QueueQuery, QueueView

_QUERY = QueueQueryIn()
# The types of the queue's sort key, as a cursor carries it (see infrastructure.views.queue).
SORT_KEY_TYPES = (int, float, int, str, int)


class Queue:
    def __init__(self, *, queue: QueueView, log: LogHead, access_log: RecordsReads):
        self.view = queue
        self.log = log
        self.access_log = access_log

    @falcon.before(allow(*ROLES))
    @logs_read(queue)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _QUERY.load(req.params)
        if query.get("assignee") == ME:
            query["assignee"] = own_agent(req.context.actor, "assignee")
        wait_if_asked(self.log, self.view, query)
        filters = {name: query[name] for name in FILTERS if name in query}
        after = None
        if "cursor" in query:
            after = decode_cursor(query["cursor"], filters, SORT_KEY_TYPES)
        page = self.view.page(QueueQuery(filters=filters, limit=query["limit"], after=after))
        # The view's items are already what QueueItemOut would dump (same fields, order
        # and JSON types; tests/integration/test_queue_view.py checks it), so they leave
        # as they are: dumping them with marshmallow was half a page's CPU.
        items = page.items
        if not sees_personal_data(req.context.actor):
            items = [impersonal_queue_item(item) for item in items]
        resp.media = {
            "items": items,
            "next_cursor": encode_cursor(page.last_key, filters) if page.last_key else None,
        }


OPERATIONS: Operations = {
    ("/v1/queue", "get"): Operation(
        "Active tickets, most urgent first (a projection; after_position waits for it)",
        "queue",
        ROLES,
        QueuePageOut,
        query=QueueQueryIn,
        description="An analyst's items leave out subject and requester_name.",
    ),
}
