"""``GET /v1/customers/{id}/tickets``: every ticket of one customer, on any channel."""

from __future__ import annotations

from uuid import UUID

import falcon

from application.ports import LogHead
from interface.http.consistency import wait_if_asked
from interface.http.cursor import decode_cursor, encode_cursor
from interface.http.middleware.auth import TICKET_READERS, allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.personal_reads import RecordsReads, logs_read, ticket_list
from interface.http.resources.tickets import LIST_SORT_KEY_TYPES
from interface.http.schemas.customers import CustomerTicketsOut, CustomerTicketsQueryIn
from interface.http.schemas.tickets import TicketListItemOut
from projections.ticket_list import TicketListQuery, TicketListView

_QUERY = CustomerTicketsQueryIn()
_ITEMS_OUT = TicketListItemOut(many=True)


class CustomerTickets:
    def __init__(self, *, ticket_list: TicketListView, log: LogHead, access_log: RecordsReads):
        self.ticket_list = ticket_list
        self.log = log
        self.access_log = access_log

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(ticket_list)
    def on_get(self, req: falcon.Request, resp: falcon.Response, customer_id: UUID) -> None:
        query = _QUERY.load(req.params)
        view = self.ticket_list
        wait_if_asked(self.log, view, query)
        filters = {"customer_id": str(customer_id)}
        if "status" in query:
            filters["status"] = query["status"]
        after = None
        if "cursor" in query:
            after = decode_cursor(query["cursor"], filters, LIST_SORT_KEY_TYPES)
        page = view.page(TicketListQuery(filters=filters, limit=query["limit"], after=after))
        resp.media = {
            "customer_id": str(customer_id),
            "items": _ITEMS_OUT.dump(page.items),
            "next_cursor": encode_cursor(page.last_key, filters) if page.last_key else None,
        }


OPERATIONS: Operations = {
    ("/v1/customers/{customer_id:uuid}/tickets", "get"): Operation(
        "Every ticket of one customer, on any channel",
        "customers",
        TICKET_READERS,
        CustomerTicketsOut,
        query=CustomerTicketsQueryIn,
    ),
}


def add_customer_routes(
    app: falcon.App, *, ticket_list: TicketListView, log: LogHead, access_log: RecordsReads
) -> None:
    app.add_route(
        "/v1/customers/{customer_id:uuid}/tickets",
        CustomerTickets(ticket_list=ticket_list, log=log, access_log=access_log),
    )
