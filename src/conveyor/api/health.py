"""``/health`` (the process answers) and ``/health/ready`` (it can do its work)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from conveyor.app import Conveyor
from conveyor.errors import ConveyorError


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
            store = await app.store()
            version = await store.schema_version()
            checks["database"] = "ok"
            checks["schema_version"] = version
            if version != store.expected_version:
                reasons.append(f"schema at {version}, expected {store.expected_version}")
            if expect_workers:
                fresh = app.clock.now() - timedelta(seconds=3 * app.settings.lease_ttl_seconds)
                live = [
                    w
                    for w in await app.workers()
                    if w.state == "running" and w.last_heartbeat_at >= fresh
                ]
                checks["live_workers"] = len(live)
                if not live:
                    reasons.append("no live worker")
        except ConveyorError as exc:
            checks["database"] = "unreachable"
            reasons.append(str(exc))
        body = {
            "status": "ready" if not reasons else "not ready",
            "reasons": reasons,
            "checks": checks,
        }
        return JSONResponse(body, status_code=200 if not reasons else 503)

    return router
