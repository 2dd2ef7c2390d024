"""``/health`` (the process answers) and ``/health/ready`` (it can do its work).

The readiness probe is bounded: during a database outage the pool would wait for a
connection far longer than a load balancer waits for an answer, so the probe gives up after
``READY_TIMEOUT`` and answers 503. Its reasons never name the database's address: the
probe is often reachable from outside, the details go to the server's log.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from conveyor.app import Conveyor
from conveyor.errors import ConveyorError

READY_TIMEOUT = 2.0
log = logging.getLogger("conveyor.api.health")


def health_router(app: Conveyor, *, expect_workers: bool) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", summary="Alive")
    async def alive() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready", summary="Ready: database, migrations, workers")
    async def ready() -> JSONResponse:
        checks: dict[str, Any] = {}
        reasons: list[str] = []
        try:
            await asyncio.wait_for(
                _check(app, checks, reasons, expect_workers=expect_workers), READY_TIMEOUT
            )
        except TimeoutError:
            checks["database"] = "unreachable"
            reasons.append(f"the database did not answer within {READY_TIMEOUT:g} s")
        except ConveyorError as exc:
            log.warning("readiness: %s", exc)
            checks["database"] = "unreachable"
            reasons.append("the database is unreachable (details in the server's log)")
        body = {
            "status": "ready" if not reasons else "not ready",
            "reasons": reasons,
            "checks": checks,
        }
        return JSONResponse(body, status_code=200 if not reasons else 503)

    return router


async def _check(
    app: Conveyor, checks: dict[str, Any], reasons: list[str], *, expect_workers: bool
) -> None:
    store = await app.store()
    version = await store.schema_version()
    checks["database"] = "ok"
    checks["schema_version"] = version
    if version != store.expected_version:
        reasons.append(f"schema at {version}, expected {store.expected_version}")
    if expect_workers:
        fresh = app.clock.now() - timedelta(seconds=3 * app.settings.lease_ttl_seconds)
        live = [
            w for w in await app.workers() if w.state == "running" and w.last_heartbeat_at >= fresh
        ]
        checks["live_workers"] = len(live)
        if not live:
            reasons.append("no live worker")
