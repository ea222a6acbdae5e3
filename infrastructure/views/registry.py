"""Every view Atende maintains, by name, with its projection and its SQL implementations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresDatastore

from infrastructure.views.follow_up import PostgresFollowUpView, SQLiteFollowUpView
from infrastructure.views.kb import PostgresKbView, SQLiteKbView
from infrastructure.views.queue import PostgresQueueView, SQLiteQueueView
from infrastructure.views.reports import PostgresReportsView, SQLiteReportsView
from infrastructure.views.routing import PostgresRoutingView, SQLiteRoutingView
from infrastructure.views.sla import PostgresSlaView, SQLiteSlaView
from infrastructure.views.ticket_list import PostgresTicketListView, SQLiteTicketListView
from projections.base import RowProjection, RowView
from projections.follow_up import FollowUpProjection, FollowUpView
from projections.kb import KbProjection, KbView
from projections.queue import QueueProjection, QueueView
from projections.reports import ReportsProjection, ReportsView
from projections.routing import RoutingProjection, RoutingView
from projections.sla import SlaProjection, SlaView
from projections.ticket_list import TicketListProjection, TicketListView


@dataclass(frozen=True)
class ViewKind:
    projection: type[RowProjection[Any]]
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
    "kb": ViewKind(KbProjection, SQLiteKbView, PostgresKbView),
}


@dataclass(frozen=True)
class Views(Mapping[str, RowView[Any]]):
    """The live views of one process, each under its own type: code that reads the
    queue says ``views.queue``. Also a mapping by registry name, for what goes through
    every view (the projector, rebuilds, health)."""

    queue: QueueView
    ticket_list: TicketListView
    sla: SlaView
    routing: RoutingView
    follow_up: FollowUpView
    reports: ReportsView
    kb: KbView

    @classmethod
    def make(cls, datastore: Any) -> Views:
        return cls(**{name: kind.make(datastore) for name, kind in VIEWS.items()})

    def __getitem__(self, name: str) -> RowView[Any]:
        if name not in VIEWS:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(VIEWS)

    def __len__(self) -> int:
        return len(VIEWS)
