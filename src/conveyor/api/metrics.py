"""``GET /metrics``: the cluster's figures for Prometheus, behind the read role."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from conveyor.api.auth import Authenticator
from conveyor.app import Conveyor
from conveyor.metrics.cluster import exposition, read_figures


def metrics_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["metrics"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics for the whole cluster",
        dependencies=[Depends(auth.reader)],
        response_class=Response,
    )
    async def metrics() -> Response:
        return Response(exposition(await read_figures(app)), media_type=CONTENT_TYPE_LATEST)

    return router
