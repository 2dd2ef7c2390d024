"""Conveyor: the app object — task registry, settings, and the enqueue/get/list facade."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, overload

import pydantic

from conveyor import tracing
from conveyor.admin_methods import AdminMethods
from conveyor.bulk import allow_collector_pause, collector_paused
from conveyor.clock import Clock, SystemClock
from conveyor.enqueue import ENQUEUE_CHUNK, EnqueueOptions, Payload, insert_in_chunks, plan_jobs
from conveyor.errors import (
    ConfigurationError,
    InvalidArgument,
    TaskNotFound,
)
from conveyor.extensions import Extensions
from conveyor.flow import FlowOptions, KeyFn, Rate
from conveyor.hooks import Hook, HookKind, Hooks
from conveyor.job import Job
from conveyor.retry import RetryPolicy
from conveyor.schedule import ScheduleInfo
from conveyor.scheduler.admin import ScheduleAdmin
from conveyor.scheduler.definition import Declared
from conveyor.settings import Settings
from conveyor.store.base import Inserted, NewJob, Store
from conveyor.store.factory import store_for_url
from conveyor.task import Handler, Task, TaskOptions, payload_type_of
from conveyor.transactional import check_same_dialect, run_plan, run_plan_sync


class Conveyor(AdminMethods, Extensions):
    """The one object an application imports: tasks are declared on it, jobs go through it.

    ``Conveyor()`` uses the embedded SQLite store under ``CONVEYOR_DATA_DIR``;
    ``Conveyor("postgresql://…")`` uses PostgreSQL. Settings not given as keyword
    arguments come from ``CONVEYOR_*`` environment variables. The store opens on first use
    (and is migrated then when ``auto_migrate`` is on).
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        clock: Clock | None = None,
        **settings: Any,
    ) -> None:
        if database_url is not None:
            settings["database_url"] = database_url
        try:
            self.settings = Settings(**settings)
        except pydantic.ValidationError as exc:
            raise ConfigurationError(f"invalid settings: {exc}") from None
        store_for_url(self.settings.resolved_database_url)  # a malformed URL fails here
        self.clock: Clock = clock or SystemClock()
        allow_collector_pause(bool(self.settings.pause_gc_during_enqueue))
        self._tasks: dict[str, Task[Any]] = {}
        self._store: Store | None = None
        self._open_lock: asyncio.Lock | None = None
        self._wakeup_listeners: list[Callable[[], None]] = []
        self.hooks = Hooks()
        self._schedules = ScheduleAdmin(self)
        AdminMethods.__init__(self, self)
        Extensions.__init__(self)

    def on(self, kind: HookKind) -> Callable[[Hook], Hook]:
        """Register a lifecycle hook: ``@app.on("failure")`` (see ``conveyor.hooks``)."""
        return lambda hook: self.hooks.add(kind, hook)

    def add_wakeup_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each enqueue made through this app object (the in-process
        wake-up of workers); returns the function that removes it."""
        self._wakeup_listeners.append(listener)
        return lambda: self._wakeup_listeners.remove(listener)

    def wake_workers(self) -> None:
        """Tell this process's workers that new jobs are ready (the public hook the scheduler
        and the schedule admin call after inserting)."""
        for listener in list(self._wakeup_listeners):
            listener()

    async def _run_migration_steps(self) -> None:
        url = self.settings.resolved_database_url
        for step in self.migration_steps:
            if inspect.iscoroutinefunction(step):
                await step(url)
            else:
                await asyncio.to_thread(step, url)

    # -- tasks --------------------------------------------------------------------------

    @overload
    def task(self, fn: Handler, /) -> Task[Any]: ...

    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 3,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        executor: str | None = None,
        payload: type[pydantic.BaseModel] | None = None,
        rate_limit: str | None = None,
        rate_burst: float | None = None,
        rate_key: KeyFn | None = None,
        concurrency_limit: int | None = None,
        concurrency_key: KeyFn | None = None,
        fairness_key: KeyFn | None = None,
        unique_for: timedelta | None = None,
        unique_key: KeyFn | None = None,
    ) -> Callable[[Handler], Task[Any]]: ...

    def task(
        self,
        fn: Handler | None = None,
        /,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 3,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        executor: str | None = None,
        payload: type[pydantic.BaseModel] | None = None,
        rate_limit: str | None = None,
        rate_burst: float | None = None,
        rate_key: KeyFn | None = None,
        concurrency_limit: int | None = None,
        concurrency_key: KeyFn | None = None,
        fairness_key: KeyFn | None = None,
        unique_for: timedelta | None = None,
        unique_key: KeyFn | None = None,
    ) -> Task[Any] | Callable[[Handler], Task[Any]]:
        """Register a handler ``(payload: Model, ctx: JobContext)`` as a task.

        ``name`` defaults to ``module.function``; the bare function name also finds the
        task as long as no other task shares it. The ``rate_*``, ``concurrency_*``,
        ``fairness_key`` and ``unique_*`` options are flow controls (``conveyor.flow``).
        """
        flow = FlowOptions(
            rate=None if rate_limit is None else Rate.parse(rate_limit),
            rate_burst=rate_burst,
            rate_key=rate_key,
            concurrency_limit=concurrency_limit,
            concurrency_key=concurrency_key,
            fairness_key=fairness_key,
            unique_for=unique_for,
            unique_key=unique_key,
        )

        def register(handler: Handler) -> Task[Any]:
            # A coroutine function runs on the event loop; a plain one on a thread.
            default_executor = "async" if inspect.iscoroutinefunction(handler) else "thread"
            options = TaskOptions(
                queue=queue,
                priority=priority,
                max_attempts=max_attempts,
                timeout=timeout,
                retry=retry or RetryPolicy(),
                executor=executor or default_executor,
                flow=flow,
            )
            task_name = name or f"{handler.__module__}.{handler.__qualname__}"
            if task_name in self._tasks:
                raise ConfigurationError(f"a task named {task_name!r} is already registered")
            payload_type = payload_type_of(handler, payload)
            task = Task(self, handler, name=task_name, payload_type=payload_type, options=options)
            self._tasks[task_name] = task
            return task

        return register(fn) if fn is not None else register

    @property
    def tasks(self) -> Mapping[str, Task[Any]]:
        return dict(self._tasks)

    def get_task(self, name: str) -> Task[Any]:
        """The task registered as ``name``, or whose function is uniquely called ``name``."""
        if name in self._tasks:
            return self._tasks[name]
        matches = [t for t in self._tasks.values() if t.name.rsplit(".", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        raise TaskNotFound(name, self._tasks)

    def resolve_task(self, task: str | Task[Any]) -> Task[Any]:
        """``task`` itself, or the task registered under that name (``get_task``)."""
        return self.get_task(task) if isinstance(task, str) else task

    # -- schedules (conveyor.scheduler.admin does the work) -------------------------------

    def schedule(self, task: str | Task[Any], **options: Any) -> Declared:
        """Declare a schedule for ``task`` in code: ``cron=`` (with ``timezone=``) or
        ``every=``; see the README's "Scheduling" for every option. An invalid cron
        expression or an unknown zone raises ``ConfigurationError`` here."""
        return self._schedules.declare(task, **options)

    def periodic(self, **options: Any) -> Callable[[Task[Any]], Task[Any]]:
        """``@app.periodic(cron="0 2 * * *", timezone="America/Chicago")`` above
        ``@app.task``: ``app.schedule`` as a decorator."""
        return self._schedules.periodic(**options)

    @property
    def declared_schedules(self) -> Mapping[str, Declared]:
        return dict(self._schedules.declared)

    async def create_schedule(
        self, name: str, task: str, *, payload: Any = None, **options: Any
    ) -> ScheduleInfo:
        """Store a schedule at run time (``cron=``/``every=`` and the options of
        ``schedule``); raises ``ScheduleExists``, ``ScheduleInvalid``, ``PayloadInvalid``."""
        return await self._schedules.create(name, task, payload=payload, **options)

    async def update_schedule(self, name: str, **changes: Any) -> ScheduleInfo:
        """Change a stored schedule; it owes no fires from before the change."""
        return await self._schedules.update(name, **changes)

    async def delete_schedule(self, name: str) -> None:
        await self._schedules.delete(name)

    async def pause_schedule(self, name: str) -> ScheduleInfo:
        return await self._schedules.set_paused(name, True)

    async def resume_schedule(self, name: str) -> ScheduleInfo:
        """Resume from now on: the fires that fell in the pause are not owed."""
        return await self._schedules.set_paused(name, False)

    async def trigger_schedule(self, name: str, *, tenant: str | None = None) -> list[Job]:
        """Enqueue the schedule's job now (for each tenant, or the one given)."""
        return await self._schedules.trigger(name, tenant=tenant)

    async def list_schedules(self) -> list[ScheduleInfo]:
        """Every stored schedule with its last run and its next fire time."""
        return await self._schedules.list()

    async def get_schedule(self, name: str) -> ScheduleInfo:
        return await self._schedules.get(name)

    # -- store --------------------------------------------------------------------------

    async def store(self) -> Store:
        """The opened (and, with ``auto_migrate``, migrated) store."""
        if self._store is not None:
            return self._store
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._store is None:
                store = store_for_url(self.settings.resolved_database_url)
                await store.open()
                try:
                    await self._check_schema(store)
                    if self.settings.auto_migrate:
                        await self._run_migration_steps()
                except BaseException:
                    await store.close()
                    raise
                self._store = store
        return self._store

    async def _check_schema(self, store: Store) -> None:
        from conveyor.errors import MigrationRequired

        version = await store.schema_version()
        if version == store.expected_version:
            return
        if version < store.expected_version and self.settings.auto_migrate:
            await store.migrate()
            return
        raise MigrationRequired(version, store.expected_version)

    async def migrate(self) -> int:
        """Apply missing migrations; returns the schema version."""
        store = store_for_url(self.settings.resolved_database_url)
        await store.open()
        try:
            version = await store.migrate()
        finally:
            await store.close()
        await self._run_migration_steps()
        return version

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await store.close()

    async def __aenter__(self) -> Conveyor:
        await self.store()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- enqueue (conveyor.enqueue plans the rows) --------------------------------------

    async def enqueue(
        self,
        task: str | Task[Any],
        payload: Payload,
        *,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
        connection: Any = None,
    ) -> Job:
        """Enqueue one job of ``task`` (a name or a ``Task``).

        With ``connection`` (the application's open transaction on the store's database)
        the job exists only if that transaction commits. A taken ``idempotency_key``
        returns the job that holds it and creates nothing.
        """
        options = EnqueueOptions(run_at, delay, priority, queue)
        outcome = await self._insert(task, [payload], options, [idempotency_key], connection)
        return outcome[0].job

    async def enqueue_many(
        self,
        task: str | Task[Any],
        payloads: Sequence[Payload],
        *,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_keys: Sequence[str | None] | None = None,
        connection: Any = None,
    ) -> list[Job]:
        """Enqueue many jobs of one task in one transaction: one bad payload enqueues
        nothing. A large batch is validated and sent in chunks (``ENQUEUE_CHUNK``), so
        the store writes one chunk while the next is validated; nothing commits unless
        every payload is valid."""
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(payloads)
        if len(keys) != len(payloads):
            raise InvalidArgument("idempotency_keys", "must have one key per payload")
        options = EnqueueOptions(run_at, delay, priority, queue)
        return [item.job for item in await self._insert(task, payloads, options, keys, connection)]

    async def enqueue_outcome(
        self,
        task: str | Task[Any],
        payload: Payload,
        *,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
    ) -> Inserted:
        """As ``enqueue``, also telling whether the job is new or already held the key."""
        options = EnqueueOptions(run_at, delay, priority, queue)
        return (await self._insert(task, [payload], options, [idempotency_key], None))[0]

    @tracing.traced_enqueue
    async def _insert(
        self,
        task: str | Task[Any],
        payloads: Sequence[Payload],
        options: EnqueueOptions,
        keys: Sequence[str | None],
        connection: Any,
    ) -> list[Inserted]:
        now = self.clock.now()
        resolved = self.resolve_task(task)

        def build(start: int, stop: int) -> list[NewJob]:
            with collector_paused():  # a chunk of payloads, models and jobs at once
                return plan_jobs(resolved, payloads[start:stop], options, keys[start:stop], now)

        if connection is None and len(payloads) > ENQUEUE_CHUNK:
            outcome = await insert_in_chunks(self.store, build, len(payloads), now, ENQUEUE_CHUNK)
        elif not (new_jobs := build(0, len(payloads))):
            return []
        elif connection is not None:
            # Only the store's SQL is needed: opening (or migrating) the store here would
            # take a second write lock while the caller's transaction holds the first.
            planner = self._store or store_for_url(self.settings.resolved_database_url)
            check_same_dialect(connection, planner.dialect)
            return await run_plan(planner.plan_insert(new_jobs, now=now), connection)
        else:
            outcome = await (await self.store()).insert_jobs(jobs=new_jobs, now=now)
        self.wake_workers()
        return outcome

    @tracing.traced_enqueue_sync
    def enqueue_sync(
        self,
        task: str | Task[Any],
        payload: Payload,
        *,
        connection: Any,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Enqueue inside a synchronous application transaction (``connection``), for
        sync web frameworks. The job exists only if that transaction commits."""
        now = self.clock.now()
        options = EnqueueOptions(run_at, delay, priority, queue)
        new_jobs = plan_jobs(self.resolve_task(task), [payload], options, [idempotency_key], now)
        store = store_for_url(self.settings.resolved_database_url)  # for its SQL only
        check_same_dialect(connection, store.dialect)
        return run_plan_sync(store.plan_insert(new_jobs, now=now), connection)[0].job

    def new_store(self) -> Store:
        """A second, unopened store on this database (for the worker's loop watchdog)."""
        return store_for_url(self.settings.resolved_database_url)
