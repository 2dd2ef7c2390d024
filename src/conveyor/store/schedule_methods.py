"""The schedule methods of the Store, written once for both dialects, all but
``record_fire`` (whose steps depend on what the first one finds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from conveyor.errors import ScheduleExists, ScheduleNotFound
from conveyor.schedule import ScheduleInfo, ScheduleSpec
from conveyor.store.rows import schedule_from_row
from conveyor.store.runner import QueryRunner
from conveyor.store.schedule import spec_params

# Not in store/schedule.py: store/base.py imports that module, and rows.py imports base.


class ScheduleMethods(QueryRunner):
    """``create_schedule``, ``update_schedule``, ``pause_schedule``, ``list_schedules``,
    ``get_schedule``, ``latest_fires``, ``claim_startup_fire``, ``save_schedules``,
    ``delete_schedules`` and ``prune_fires``."""

    async def save_schedules(self, *, specs: Sequence[ScheduleSpec], now: datetime) -> None:
        await self._db.execute_all(
            [("save_schedule", spec_params(spec, now, self._db.time)) for spec in specs]
        )

    async def delete_schedules(self, *, names: Sequence[str]) -> int:
        params = {"names": self._db.array(list(names))}
        # The fires and cursors go explicitly: SQLite runs with foreign keys off.
        statements = ["delete_schedule_fires", "delete_schedule_cursors", "delete_schedules"]
        return (await self._db.execute_all([(name, params) for name in statements]))[-1]

    async def prune_fires(self, *, before: datetime) -> int:
        return await self._db.execute("prune_fires", {"before": self._db.time(before)})

    async def create_schedule(self, *, spec: ScheduleSpec, now: datetime) -> ScheduleInfo:
        params = spec_params(spec, now, self._db.time)
        if not await self._db.write("create_schedule", params):
            raise ScheduleExists(spec.name)
        return await self.get_schedule(name=spec.name)

    async def update_schedule(self, *, spec: ScheduleSpec, now: datetime) -> ScheduleInfo:
        params = spec_params(spec, now, self._db.time)
        if not await self._db.write("update_schedule", params):
            raise ScheduleNotFound(spec.name)
        return await self.get_schedule(name=spec.name)

    async def pause_schedule(self, *, name: str, paused: bool, now: datetime) -> ScheduleInfo:
        params = {"name": name, "paused": paused, "now": self._db.time(now)}
        if not await self._db.write("set_schedule_paused", params):
            raise ScheduleNotFound(name)
        return await self.get_schedule(name=name)

    async def list_schedules(self) -> list[ScheduleInfo]:
        rows = await self._db.read("list_schedules", {"name": None})
        return [schedule_from_row(row, self._db.when) for row in rows]

    async def get_schedule(self, *, name: str) -> ScheduleInfo:
        rows = await self._db.read("list_schedules", {"name": name})
        if not rows:
            raise ScheduleNotFound(name)
        return schedule_from_row(rows[0], self._db.when)

    async def latest_fires(self) -> dict[tuple[str, str], datetime]:
        rows = await self._db.read("latest_fires", {})
        return {(r["schedule"], r["tenant"]): self._db.when(r["fire_at"]) for r in rows}

    async def claim_startup_fire(self, *, name: str, since: datetime, now: datetime) -> bool:
        params = {
            "name": name,
            "since": self._db.time(since),
            "now": self._db.time(now),
        }
        return bool(await self._db.write("claim_startup_fire", params))
