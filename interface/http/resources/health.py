"""Liveness and database reachability, without authentication (for load balancers)."""

from __future__ import annotations

import logging

import falcon

from infrastructure.bootstrap import Atende

log = logging.getLogger("atende.health")


class Health:
    public = True

    def __init__(self, atende: Atende):
        self.atende = atende

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self.atende.db.fetchone("SELECT 1 AS ok")
        except Exception:  # any failure means "not healthy", and it is logged
            log.warning("health check: database unreachable", exc_info=True)
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "2")
            resp.media = {"status": "unavailable", "database": "unreachable"}
            return
        resp.media = {"status": "ok", "database": "ok"}
