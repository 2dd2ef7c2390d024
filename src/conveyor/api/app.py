"""create_api: the FastAPI application over one Conveyor app."""

from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.auth import Authenticator, parse_tokens
from conveyor.api.batches import batches_router
from conveyor.api.errors import error_body, install_error_handlers
from conveyor.api.health import health_router
from conveyor.api.items import items_router
from conveyor.api.jobs import jobs_router
from conveyor.api.metrics import metrics_router
from conveyor.api.queues import queues_router
from conveyor.api.schedules import schedules_router
from conveyor.api.tasks import task_router
from conveyor.app import Conveyor

DEFAULT_MAX_BODY_BYTES = 1_048_576


def create_api(
    app: Conveyor,
    *,
    expect_workers: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The HTTP API over ``app``. Its tasks' endpoints are generated from the registry
    here, so register tasks before calling this."""
    auth = Authenticator(parse_tokens(app.settings.api_token))
    api = FastAPI(
        title="Conveyor",
        description="Durable background jobs: enqueue, watch and manage them. Every error "
        'answers `{"error": {"code", "message", "details"}}` with its HTTP status.',
        version="0.1.0",
    )
    api.state.conveyor = app
    api.state.auth = auth
    install_error_handlers(api)
    api.include_router(health_router(app, expect_workers=expect_workers))
    api.include_router(task_router(app, auth))
    api.include_router(jobs_router(app, auth))
    api.include_router(schedules_router(app, auth))
    api.include_router(items_router(app, auth))
    api.include_router(batches_router(app, auth))
    api.include_router(queues_router(app, auth))
    api.include_router(metrics_router(app, auth))
    # Imported here: the dashboard imports the API's auth, so a module-level import would
    # make `conveyor.dashboard` importable only after `conveyor.api`.
    from conveyor.dashboard import install_dashboard

    install_dashboard(api, app, auth)
    for router in app.api_routers:  # the application's own routes (app.add_api_router)
        api.include_router(router if isinstance(router, APIRouter) else router())
    api.add_middleware(BodyLimit, limit=max_body_bytes)
    return api


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, whether or not the client
    announced the length: the body is counted as it arrives, never buffered whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged and
                    # is answered by the error handlers in the usual JSON shape.
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_body("payload_too_large", f"request body over {self.limit} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
