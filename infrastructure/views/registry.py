"""Every view Atende maintains, by name, with its projection and its SQL implementations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresDatastore

from infrastructure.views.follow_up import PostgresFollowUpView, SQLiteFollowUpView
from infrastructure.views.queue import PostgresQueueView, SQLiteQueueView
from infrastructure.views.reports import PostgresReportsView, SQLiteReportsView
from infrastructure.views.routing import PostgresRoutingView, SQLiteRoutingView
from infrastructure.views.sla import PostgresSlaView, SQLiteSlaView
from infrastructure.views.ticket_list import PostgresTicketListView, SQLiteTicketListView
from projections.follow_up import FollowUpProjection
from projections.queue import QueueProjection
from projections.reports import ReportsProjection
from projections.routing import RoutingProjection
from projections.sla import SlaProjection
from projections.ticket_list import TicketListProjection


@dataclass(frozen=True)
class ViewKind:
    projection: type
    sqlite: type
    postgres: type

    def make(self, datastore: Any, suffix: str = "") -> Any:
        cls = self.postgres if isinstance(datastore, PostgresDatastore) else self.sqlite
        return cls(datastore, suffix=suffix)


VIEWS: dict[str, ViewKind] = {
    "queue": ViewKind(QueueProjection, SQLiteQueueView, PostgresQueueView),
    "ticket_list": ViewKind(TicketListProjection, SQLiteTicketListView, PostgresTicketListView),
    "sla": ViewKind(SlaProjection, SQLiteSlaView, PostgresSlaView),
    "routing": ViewKind(RoutingProjection, SQLiteRoutingView, PostgresRoutingView),
    "follow_up": ViewKind(FollowUpProjection, SQLiteFollowUpView, PostgresFollowUpView),
    "reports": ViewKind(ReportsProjection, SQLiteReportsView, PostgresReportsView),
}
