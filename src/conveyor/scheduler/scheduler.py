"""Scheduler: fires every stored schedule at its times, each fire once across the cluster.

Every worker and ``serve`` process runs one. There is no leader: each cycle, every
scheduler reads the schedules and their cursors (the newest decided fire per schedule and
tenant), works out the fires now due under each schedule's catch-up policy, and asks the
store to ``record_fire`` each. The fires table's primary key decides: the first process
to insert a (schedule, tenant, kind, fire time) enqueues its job in the same transaction,
every other process gets ``DUPLICATE`` back. A scheduler that dies loses nothing: the
others owe the same fires and decide them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.enqueue import EnqueueOptions, plan_jobs
from conveyor.errors import ConfigurationError, TaskNotFound
from conveyor.maintenance.maintenance import Maintenance, MaintenanceOptions
from conveyor.schedule import Fire, FireOutcome, FireResult, ScheduleInfo
from conveyor.scheduler.cron import zone
from conveyor.scheduler.definition import Declared, rule_of
from conveyor.scheduler.planner import DEFAULT_CATCH_UP_LIMIT, DEFAULT_GRACE, plan_fires
from conveyor.store.base import NewJob, Store

if TYPE_CHECKING:
    from conveyor.seams import AppSeam

log = logging.getLogger("conveyor.scheduler")
TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    """How a scheduler runs.

    Attributes:
        poll_interval: the longest wait between cycles (default 1 s); a cycle also runs
            when the next fire is due sooner.
        grace: a fire later than this counts as missed, for the catch-up policy (60 s).
        catch_up_limit: most missed fires ``catch_up="all"`` enqueues (default 100).
        startup_window: schedulers starting within this of each other share one
            run-on-startup fire (default 60 s).
        tenant_refresh: how long a per-tenant schedule's tenant list is reused before its
            ``per_tenant`` source is called again (default 30 s; triggers always call it).
        maintenance: run pruning and dead-worker cleanup (default on), see
            ``MaintenanceOptions``.
    """

    poll_interval: timedelta = timedelta(seconds=1)
    grace: timedelta = DEFAULT_GRACE
    catch_up_limit: int = DEFAULT_CATCH_UP_LIMIT
    startup_window: timedelta = timedelta(seconds=60)
    tenant_refresh: timedelta = timedelta(seconds=30)
    maintenance: MaintenanceOptions | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Who one schedule fires for: ``key`` "" and no tenant, or one tenant in its zone."""

    key: str
    tenant: Any
    timezone: str


class Scheduler:
    """One scheduler loop over the app's store (see the module docstring)."""

    def __init__(self, app: AppSeam, options: SchedulerOptions | None = None) -> None:
        self.app = app
        self.options = options or SchedulerOptions()
        self._stopping = asyncio.Event()
        self._warned: set[str] = set()
        self._tenant_seen: dict[tuple[str, str], datetime] = {}
        self._tenant_lists: dict[str, tuple[datetime, list[Target]]] = {}
        self._next_due: datetime | None = None
        self.maintenance = Maintenance(app, self.options.maintenance)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> list[FireResult]:
        """Sync the code-declared schedules into the store, then make the run-on-startup
        fires this cluster start owes; returns what they did."""
        store = await self.app.store()
        now = self.app.clock.now()
        declared = self.app.declared_schedules
        await store.save_schedules(specs=[d.spec for d in declared.values()], now=now)
        stale = [
            info.name
            for info in await store.list_schedules()
            if info.spec.source == "code"
            and info.name not in declared
            and info.spec.task in self.app.tasks
        ]
        if stale:
            # Declared in code by this app before, and no longer: the code is the truth.
            await store.delete_schedules(names=stale)
            log.info("removed schedules no longer declared in code: %s", stale)
        results: list[FireResult] = []
        for info in await store.list_schedules():
            if not info.spec.run_on_startup or info.paused:
                continue
            since = now - self.options.startup_window
            if await store.claim_startup_fire(name=info.name, since=since, now=now):
                results += await self.fire_now(info, kind="startup")
        return results

    async def run(self) -> None:
        """Start, then run cycles (and maintenance) until ``stop()``. A failing cycle is
        logged and retried at the next one: the scheduler never brings its process down."""
        while not self._stopping.is_set():
            try:
                await self.start()
                break
            except Exception:
                log.exception("scheduler start failed; retrying")
                await self._sleep(self.options.poll_interval)
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler cycle failed; retrying at the next one")
            try:
                await self.maintenance.run_if_due()
            except Exception:
                log.exception("maintenance failed; retrying at the next interval")
            await self._sleep(self._wait())

    def stop(self) -> None:
        self._stopping.set()

    async def _sleep(self, delay: timedelta) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay.total_seconds())

    def _wait(self) -> timedelta:
        wait = self.options.poll_interval
        if self._next_due is not None:
            wait = min(wait, self._next_due - self.app.clock.now())
        return max(wait, timedelta(milliseconds=10))

    # -- one cycle ----------------------------------------------------------------------

    async def tick(self) -> list[FireResult]:
        """Decide every fire due now; returns the results (``DUPLICATE`` ones included)."""
        store = await self.app.store()
        now = self.app.clock.now()
        cursors = await store.latest_fires()
        results: list[FireResult] = []
        self._next_due = None
        for info in await store.list_schedules():
            if info.paused or not self._runnable(info):
                continue
            try:
                for target in await self.targets(info):
                    results += await self._fire_due(store, info, target, cursors, now)
            except Exception:
                # One broken schedule (its tenant source raised, its payload no longer
                # validates) must not hold up the others.
                log.exception("schedule %s: cycle failed; retrying at the next one", info.name)
        if any(r.outcome is FireOutcome.ENQUEUED for r in results):
            self.app.wake_workers()  # in-process workers; LISTEN/NOTIFY wakes the others
        return results

    async def _fire_due(
        self,
        store: Store,
        info: ScheduleInfo,
        target: Target,
        cursors: dict[tuple[str, str], datetime],
        now: datetime,
    ) -> list[FireResult]:
        rule = rule_of(info.spec, target.timezone)
        # Fires owed start after the last decided one, never before the schedule (or its
        # rule) was last changed, paused or resumed, nor, for a tenant never fired, before
        # this scheduler first saw the tenant (a new tenant is not owed last night's run).
        floor = info.updated_at - TICK
        if info.spec.per_tenant:
            seen = self._tenant_seen.setdefault((info.name, target.key), now)
            floor = max(floor, seen - TICK)
        after = max(cursors.get((info.name, target.key), floor), floor)
        results = []
        for planned in plan_fires(
            rule,
            after=after,
            now=now,
            catch_up=info.spec.catch_up,
            grace=self.options.grace,
            limit=self.options.catch_up_limit,
        ):
            fire = Fire(info.name, planned.fire_at, target.key)
            job = self._job(info, target, now) if planned.run else None
            result = await store.record_fire(
                fire=fire, job=job, allow_overlap=info.spec.allow_overlap, now=now
            )
            if result.outcome is FireOutcome.SKIPPED:
                log.info(
                    "schedule %s: fire at %s skipped, its previous run is still going",
                    info.name,
                    planned.fire_at,
                )
            results.append(result)
        upcoming = rule.next_fire(max(after, now))
        if self._next_due is None or upcoming < self._next_due:
            self._next_due = upcoming
        return results

    async def fire_now(
        self, info: ScheduleInfo, *, kind: str = "manual", tenant: str | None = None
    ) -> list[FireResult]:
        """Enqueue the schedule's job now for each target (or one tenant), as a ``kind``
        fire outside the rule's times (trigger now, run on startup)."""
        store = await self.app.store()
        now = self.app.clock.now()
        results = []
        for target in await self.targets(info, fresh=True):
            if tenant is not None and target.key != tenant:
                continue
            fire = Fire(info.name, now, target.key, kind=kind)
            job = self._job(info, target, now)
            results.append(await store.record_fire(fire=fire, job=job, allow_overlap=True, now=now))
        return results

    # -- helpers ------------------------------------------------------------------------

    def _runnable(self, info: ScheduleInfo) -> bool:
        """Whether this process can fire ``info``: it knows the task (and, per tenant,
        the tenant source). Another process that does fires it instead."""
        try:
            self.app.get_task(info.spec.task)
        except TaskNotFound:
            self._warn_once(
                info.name,
                f"schedule {info.name}: task {info.spec.task!r} is "
                "not registered in this process; not firing it here",
            )
            return False
        if info.spec.per_tenant and self._declared(info) is None:
            self._warn_once(
                info.name,
                f"schedule {info.name} is per tenant and not declared "
                "in this process; not firing it here",
            )
            return False
        return True

    def _declared(self, info: ScheduleInfo) -> Declared | None:
        declared = self.app.declared_schedules.get(info.name)
        return declared if declared is not None and declared.per_tenant is not None else None

    async def targets(self, info: ScheduleInfo, *, fresh: bool = False) -> list[Target]:
        """One target, or one per tenant as the schedule's tenant source said within the
        last ``tenant_refresh`` (``fresh``: as it says now)."""
        if not info.spec.per_tenant:
            return [Target("", None, info.spec.timezone)]
        now = self.app.clock.now()
        cached = self._tenant_lists.get(info.name)
        if not fresh and cached is not None and now - cached[0] < self.options.tenant_refresh:
            return cached[1]
        targets = await self._read_tenants(info)
        self._tenant_lists[info.name] = (now, targets)
        return targets

    async def _read_tenants(self, info: ScheduleInfo) -> list[Target]:
        declared = self._declared(info)
        if declared is None or declared.per_tenant is None:
            raise ConfigurationError(
                f"schedule {info.name} is per tenant: only a process that declares it "
                "(with its per_tenant source) can fire it"
            )
        pairs = declared.per_tenant()
        if inspect.isawaitable(pairs):
            pairs = await pairs
        targets = []
        for tenant, timezone in pairs:
            try:
                zone(timezone)
            except ConfigurationError as exc:
                self._warn_once(
                    f"{info.name}:{tenant}",
                    f"schedule {info.name}, tenant {tenant!r}: {exc.message}; skipping this tenant",
                )
                continue
            targets.append(Target(str(tenant), tenant, timezone))
        return targets

    def _job(self, info: ScheduleInfo, target: Target, now: datetime) -> NewJob:
        payload = dict(info.spec.payload)
        declared = self._declared(info)
        if info.spec.per_tenant and declared is not None:
            payload[declared.tenant_field] = target.tenant
        options = EnqueueOptions(priority=info.spec.priority, queue=info.spec.queue)
        return plan_jobs(self.app.get_task(info.spec.task), [payload], options, [None], now)[0]

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)
