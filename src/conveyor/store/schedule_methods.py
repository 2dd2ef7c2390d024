"""The schedule methods of the Store that need no transaction of their own, written once
for both dialects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.errors import ScheduleExists, ScheduleNotFound
from conveyor.schedule import ScheduleInfo, ScheduleSpec
from conveyor.store.rows import schedule_from_row
from conveyor.store.runner import QueryRunner
from conveyor.store.schedule import spec_params

# Not in store/schedule.py: store/base.py imports that module, and rows.py imports base.


class ScheduleMethods(QueryRunner):
    """``create_schedule``, ``update_schedule``, ``pause_schedule``, ``list_schedules``,
    ``get_schedule``, ``latest_fires`` and ``claim_startup_fire``: one statement each.
    Mixed into each store with its dialect's ``QueryRunner``; the methods that run several
    statements in one transaction (``save_schedules``, ``delete_schedules``,
    ``record_fire``, ``prune_fires``) stay with the dialect."""

    @staticmethod
    def _schedule_time(moment: datetime) -> Any:
        """A time as the dialect's schedule statements take it."""
        raise NotImplementedError

    async def create_schedule(self, *, spec: ScheduleSpec, now: datetime) -> ScheduleInfo:
        params = spec_params(spec, now, self._schedule_time)
        if not await self._write_rows("create_schedule", params):
            raise ScheduleExists(spec.name)
        return await self.get_schedule(name=spec.name)

    async def update_schedule(self, *, spec: ScheduleSpec, now: datetime) -> ScheduleInfo:
        params = spec_params(spec, now, self._schedule_time)
        if not await self._write_rows("update_schedule", params):
            raise ScheduleNotFound(spec.name)
        return await self.get_schedule(name=spec.name)

    async def pause_schedule(self, *, name: str, paused: bool, now: datetime) -> ScheduleInfo:
        params = {"name": name, "paused": paused, "now": self._schedule_time(now)}
        if not await self._write_rows("set_schedule_paused", params):
            raise ScheduleNotFound(name)
        return await self.get_schedule(name=name)

    async def list_schedules(self) -> list[ScheduleInfo]:
        rows = await self._read_rows("list_schedules", {"name": None})
        return [schedule_from_row(row, self._when) for row in rows]

    async def get_schedule(self, *, name: str) -> ScheduleInfo:
        rows = await self._read_rows("list_schedules", {"name": name})
        if not rows:
            raise ScheduleNotFound(name)
        return schedule_from_row(rows[0], self._when)

    async def latest_fires(self) -> dict[tuple[str, str], datetime]:
        rows = await self._read_rows("latest_fires", {})
        return {(r["schedule"], r["tenant"]): self._when(r["fire_at"]) for r in rows}

    async def claim_startup_fire(self, *, name: str, since: datetime, now: datetime) -> bool:
        params = {
            "name": name,
            "since": self._schedule_time(since),
            "now": self._schedule_time(now),
        }
        return bool(await self._write_rows("claim_startup_fire", params))
