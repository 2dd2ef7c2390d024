"""Schedule endpoints: list and show (read role); create, update, delete, pause, resume and
trigger now (admin role)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from conveyor.api.auth import Authenticator
from conveyor.api.inputs import Text
from conveyor.app import Conveyor

ScheduleJson = dict[str, Any]
JobJson = dict[str, Any]
Name = Annotated[Text, Path(min_length=1, max_length=200)]
MAX_SECONDS = 3650 * 86400
PRIORITY = Field(default=None, ge=-(2**31), le=2**31 - 1)


class ScheduleOptions(BaseModel):
    """A schedule's rule and options; give exactly one of ``cron`` and ``every_seconds``."""

    cron: Text | None = Field(
        default=None, max_length=200, description="5-field cron or @daily-style alias."
    )
    every_seconds: float | None = Field(default=None, gt=0, le=MAX_SECONDS)
    timezone: Text = Field(default="UTC", max_length=100, description="IANA zone of the cron.")
    payload: dict[str, Any] = Field(default_factory=dict)
    queue: Text | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = PRIORITY
    catch_up: Literal["latest", "all", "skip"] = "latest"
    allow_overlap: bool = True
    run_on_startup: bool = False
    run_immediately: bool = False
    initial_delay_seconds: float | None = Field(default=None, ge=0, le=MAX_SECONDS)


class ScheduleCreate(ScheduleOptions):
    name: Text = Field(min_length=1, max_length=200)
    task: Text = Field(min_length=1, max_length=500)


class ScheduleUpdate(BaseModel):
    """The fields to change; the others (and those given as ``null``) keep their value.
    Giving ``cron`` turns an interval schedule into a cron one, and ``every_seconds`` the
    other way round."""

    task: Text | None = Field(default=None, min_length=1, max_length=500)
    cron: Text | None = Field(default=None, max_length=200)
    every_seconds: float | None = Field(default=None, gt=0, le=MAX_SECONDS)
    timezone: Text | None = Field(default=None, max_length=100)
    payload: dict[str, Any] | None = None
    queue: Text | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = PRIORITY
    catch_up: Literal["latest", "all", "skip"] | None = None
    allow_overlap: bool | None = None
    run_on_startup: bool | None = None


class ScheduleList(BaseModel):
    schedules: list[ScheduleJson]


class Triggered(BaseModel):
    jobs: list[JobJson]


def _options(values: dict[str, Any]) -> dict[str, Any]:
    """API field names to ``Conveyor.create_schedule``/``update_schedule`` keywords."""
    renamed = {"every_seconds": "every", "initial_delay_seconds": "initial_delay"}
    return {renamed.get(k, k): v for k, v in values.items()}


def schedules_router(app: Conveyor, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["schedules"])
    read = [Depends(auth.reader)]
    admin = [Depends(auth.admin)]

    @router.get(
        "/schedules", summary="Every schedule, with next fire and last run", dependencies=read
    )
    async def list_schedules() -> ScheduleList:
        return ScheduleList(schedules=[s.to_json() for s in await app.list_schedules()])

    @router.get("/schedules/{name}", summary="One schedule", dependencies=read)
    async def get_schedule(name: Name) -> ScheduleJson:
        return (await app.get_schedule(name)).to_json()

    @router.post("/schedules", status_code=201, summary="Create a schedule", dependencies=admin)
    async def create_schedule(body: ScheduleCreate) -> ScheduleJson:
        options = _options(body.model_dump(exclude={"name", "task", "payload"}))
        info = await app.create_schedule(body.name, body.task, payload=body.payload, **options)
        return info.to_json()

    @router.patch("/schedules/{name}", summary="Change a schedule", dependencies=admin)
    async def update_schedule(name: Name, body: ScheduleUpdate) -> ScheduleJson:
        given = body.model_dump(exclude_unset=True)
        changes = _options({k: v for k, v in given.items() if v is not None})
        return (await app.update_schedule(name, **changes)).to_json()

    @router.delete(
        "/schedules/{name}", status_code=204, summary="Delete a schedule", dependencies=admin
    )
    async def delete_schedule(name: Name) -> Response:
        await app.delete_schedule(name)
        return Response(status_code=204)

    @router.post("/schedules/{name}/pause", summary="Pause a schedule", dependencies=admin)
    async def pause(name: Name) -> ScheduleJson:
        return (await app.pause_schedule(name)).to_json()

    @router.post(
        "/schedules/{name}/resume",
        summary="Resume a schedule (fires of the pause are not caught up)",
        dependencies=admin,
    )
    async def resume(name: Name) -> ScheduleJson:
        return (await app.resume_schedule(name)).to_json()

    @router.post(
        "/schedules/{name}/trigger",
        status_code=201,
        summary="Enqueue the schedule's job now (each tenant's, or one)",
        dependencies=admin,
    )
    async def trigger(
        name: Name, tenant: Annotated[Text | None, Query(max_length=200)] = None
    ) -> Triggered:
        jobs = await app.trigger_schedule(name, tenant=tenant)
        return Triggered(jobs=[j.to_json() for j in jobs])

    return router
