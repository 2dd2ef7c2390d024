"""ScheduleAdmin: declaring schedules in code, and managing stored ones (the app's facade)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pydantic

from conveyor.errors import (
    ConfigurationError,
    InvalidArgument,
    PayloadInvalid,
    ScheduleDeclaredInCode,
)
from conveyor.job import Job
from conveyor.schedule import ScheduleInfo
from conveyor.scheduler.definition import (
    Declared,
    TenantSource,
    make_spec,
    reanchored,
    rule_of,
)

if TYPE_CHECKING:
    from conveyor.seams import AppSeam
    from conveyor.task import Task

Payload = pydantic.BaseModel | Mapping[str, Any] | None
UPDATABLE = frozenset(
    {
        "task", "cron", "every", "timezone", "payload", "queue", "priority", "catch_up",
        "allow_overlap", "run_on_startup", "run_immediately", "initial_delay",
    }
)  # fmt: skip


class ScheduleAdmin:
    """What ``Conveyor``'s schedule methods do; one per app."""

    def __init__(self, app: AppSeam) -> None:
        self.app = app
        self.declared: dict[str, Declared] = {}

    # -- in code --------------------------------------------------------------------------

    def declare(
        self,
        task: str | Task[Any],
        *,
        name: str | None = None,
        cron: str | None = None,
        every: timedelta | float | None = None,
        timezone: str = "UTC",
        payload: Payload = None,
        queue: str | None = None,
        priority: int | None = None,
        catch_up: str = "latest",
        allow_overlap: bool = True,
        run_on_startup: bool = False,
        run_immediately: bool = False,
        initial_delay: timedelta | float | None = None,
        per_tenant: TenantSource | None = None,
        tenant_field: str = "tenant_id",
    ) -> Declared:
        resolved = self.app.get_task(task) if isinstance(task, str) else task
        schedule_name = name or resolved.name
        if schedule_name in self.declared:
            raise ConfigurationError(
                f"a schedule named {schedule_name!r} is already declared; pass name="
            )
        if per_tenant is not None and tenant_field not in resolved.payload_type.model_fields:
            raise ConfigurationError(
                f"schedule {schedule_name!r} is per tenant, but the payload model of "
                f"{resolved.name} has no field {tenant_field!r} for the tenant id"
            )
        spec = make_spec(
            name=schedule_name,
            task=resolved.name,
            cron=cron,
            every=every,
            timezone=timezone,
            payload=self._payload(resolved, payload, validate=per_tenant is None),
            queue=queue,
            priority=priority,
            catch_up=catch_up,
            allow_overlap=allow_overlap,
            run_on_startup=run_on_startup,
            run_immediately=run_immediately,
            initial_delay=initial_delay,
            per_tenant=per_tenant is not None,
            source="code",
            now=self.app.clock.now(),
        )
        declared = Declared(spec, per_tenant, tenant_field)
        self.declared[schedule_name] = declared
        return declared

    def periodic(self, **options: Any) -> Callable[[Task[Any]], Task[Any]]:
        def attach(task: Task[Any]) -> Task[Any]:
            if not hasattr(task, "payload_type"):
                raise ConfigurationError(
                    "@app.periodic goes above @app.task (it schedules a registered task)"
                )
            self.declare(task, **options)
            return task

        return attach

    def _payload(self, task: Task[Any], payload: Payload, *, validate: bool) -> dict[str, Any]:
        if payload is None:
            payload = {}
        if isinstance(payload, pydantic.BaseModel):
            payload = payload.model_dump(mode="json")
        if validate:
            payload = task.validate(payload).model_dump(mode="json")
        # PostgreSQL cannot store NUL in jsonb: refuse it here, on both stores alike.
        if "\\u0000" in json.dumps(payload):
            raise PayloadInvalid(
                task.name, [{"loc": [], "msg": "strings must not contain NUL characters"}]
            )
        return dict(payload)

    # -- stored ---------------------------------------------------------------------------

    async def create(
        self, name: str, task: str, *, payload: Payload = None, **options: Any
    ) -> ScheduleInfo:
        unknown = set(options) - UPDATABLE
        if unknown:
            raise InvalidArgument(sorted(unknown)[0], "is not a schedule option")
        resolved = self.app.get_task(task)
        now = self.app.clock.now()
        spec = make_spec(
            name=name,
            task=resolved.name,
            cron=options.get("cron"),
            every=options.get("every"),
            timezone=options.get("timezone", "UTC"),
            payload=self._payload(resolved, payload, validate=True),
            queue=options.get("queue"),
            priority=options.get("priority"),
            catch_up=options.get("catch_up", "latest"),
            allow_overlap=options.get("allow_overlap", True),
            run_on_startup=options.get("run_on_startup", False),
            run_immediately=options.get("run_immediately", False),
            initial_delay=options.get("initial_delay"),
            per_tenant=False,
            source="runtime",
            now=now,
        )
        store = await self.app.store()
        return self._with_next(await store.create_schedule(spec=spec, now=now))

    async def update(self, name: str, **changes: Any) -> ScheduleInfo:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise InvalidArgument(sorted(unknown)[0], "is not a schedule option")
        store = await self.app.store()
        current = await store.get_schedule(name=name)
        if current.spec.source == "code":
            raise ScheduleDeclaredInCode(name, "update")
        old = current.spec
        merged: dict[str, Any] = {
            "task": old.task, "cron": old.cron, "every": old.every, "timezone": old.timezone,
            "payload": old.payload, "queue": old.queue, "priority": old.priority,
            "catch_up": old.catch_up.value, "allow_overlap": old.allow_overlap,
            "run_on_startup": old.run_on_startup, "run_immediately": False,
            "initial_delay": None,
        }  # fmt: skip
        if "cron" in changes and changes["cron"] is not None:
            merged["every"] = None
        if "every" in changes and changes["every"] is not None:
            merged["cron"] = None
        merged.update(changes)
        resolved = self.app.get_task(merged.pop("task"))
        now = self.app.clock.now()
        spec = make_spec(
            name=name,
            task=resolved.name,
            payload=self._payload(resolved, merged.pop("payload"), validate=True),
            per_tenant=False,
            source="runtime",
            now=now,
            **merged,
        )
        if not {"run_immediately", "initial_delay"} & set(changes):
            spec = reanchored(spec, old)  # an unchanged interval keeps its grid
        return self._with_next(await store.update_schedule(spec=spec, now=now))

    async def delete(self, name: str) -> None:
        store = await self.app.store()
        current = await store.get_schedule(name=name)
        if current.spec.source == "code" and name in self.declared:
            raise ScheduleDeclaredInCode(name, "delete")
        await store.delete_schedules(names=[name])

    async def set_paused(self, name: str, paused: bool) -> ScheduleInfo:
        store = await self.app.store()
        info = await store.pause_schedule(name=name, paused=paused, now=self.app.clock.now())
        return self._with_next(info)

    async def trigger(self, name: str, *, tenant: str | None = None) -> list[Job]:
        from conveyor.scheduler.scheduler import Scheduler

        store = await self.app.store()
        info = await store.get_schedule(name=name)
        results = await Scheduler(self.app).fire_now(info, tenant=tenant)
        if tenant is not None and not results:
            raise InvalidArgument("tenant", f"schedule {name!r} has no tenant {tenant!r} now")
        jobs = [r.job for r in results if r.job is not None]
        self.app.wake_workers()  # in-process workers; LISTEN/NOTIFY wakes the others
        return jobs

    async def list(self) -> list[ScheduleInfo]:
        store = await self.app.store()
        return [self._with_next(info) for info in await store.list_schedules()]

    async def get(self, name: str) -> ScheduleInfo:
        store = await self.app.store()
        return self._with_next(await store.get_schedule(name=name))

    def _with_next(self, info: ScheduleInfo) -> ScheduleInfo:
        """``info`` with its next fire time (in the schedule's own zone; a per-tenant
        schedule's tenants each fire at that local time in their own zone)."""
        if info.paused:
            return info
        now = self.app.clock.now()
        after = max(now, info.updated_at) - timedelta(microseconds=1)
        return replace(info, next_fire_at=rule_of(info.spec).next_fire(after))
