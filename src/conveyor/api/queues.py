"""Queue endpoints: list queues with their counts; pause and resume one (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from conveyor.api.auth import Authenticator
from conveyor.api.inputs import Text
from conveyor.app import Conveyor

QueueName = Annotated[Text, Path(min_length=1, max_length=255)]


class QueueCounts(BaseModel):
    available: int
    scheduled: int
    running: int
    retrying: int
    failed: int


class QueueJson(BaseModel):
    """One queue. A paused queue accepts jobs; workers claim none until it is resumed."""

    name: str
    paused: bool
    paused_at: str | None = Field(description="When it was paused (ISO 8601), if it is.")
    counts: QueueCounts
    oldest_waiting_seconds: float | None = Field(
        description="How long the longest-waiting due job has waited; null when none is due."
    )


def queues_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["queues"])
    read = [Depends(auth.reader)]
    admin = [Depends(auth.admin)]

    @router.get(
        "/queues",
        summary="Every queue: those with jobs, those paused, those the tasks name",
        dependencies=read,
    )
    async def list_queues() -> list[QueueJson]:
        return [QueueJson.model_validate(q.to_json()) for q in await app.queues()]

    @router.post(
        "/queues/{name}/pause",
        summary="Stop workers claiming from a queue (jobs keep arriving); idempotent",
        dependencies=admin,
    )
    async def pause(name: QueueName) -> QueueJson:
        return QueueJson.model_validate((await app.pause_queue(name)).to_json())

    @router.post(
        "/queues/{name}/resume",
        summary="Let workers claim from a queue again, waking them now; idempotent",
        dependencies=admin,
    )
    async def resume(name: QueueName) -> QueueJson:
        return QueueJson.model_validate((await app.resume_queue(name)).to_json())

    return router
