"""Conveyor: the app object — task registry, settings, and the enqueue/get/list facade."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, TypeVar, overload

import pydantic

from conveyor.batch import plan_batch
from conveyor.batches import Batch, BatchPage
from conveyor.bulk import build_many, collector_paused
from conveyor.clock import Clock, SystemClock
from conveyor.errors import (
    ConfigurationError,
    InvalidArgument,
    InvalidTransition,
    TaskNotFound,
)
from conveyor.explain import Explanation, explain
from conveyor.flow import FlowOptions, KeyFn, Rate
from conveyor.hooks import Hook, HookKind, Hooks
from conveyor.item import ItemCounts, ItemOutcome, ItemPage, ledger_of
from conveyor.job import Job, JobState, Page
from conveyor.metrics.tally import Tally
from conveyor.page import DashboardPage, PageRender
from conveyor.queue import QueueInfo
from conveyor.retry import RetryPolicy
from conveyor.schedule import ScheduleInfo
from conveyor.scheduler.admin import ScheduleAdmin
from conveyor.scheduler.definition import Declared
from conveyor.settings import Settings
from conveyor.stats import Activity, JobStats, QueueCount, WorkerInfo
from conveyor.store.base import Inserted, JobFilter, NewJob, Store
from conveyor.store.factory import store_for_url
from conveyor.task import Handler, Task, TaskOptions, payload_type_of
from conveyor.transactional import check_same_dialect, run_plan, run_plan_sync

T = TypeVar("T")
MAX_PAGE = 1000
MAX_DELAY = timedelta(days=3650)
# A larger enqueue_many goes to the store in chunks of this many jobs (one transaction),
# so that PostgreSQL inserts one chunk while the next is validated and encoded.
ENQUEUE_CHUNK = 2_000
PRIORITY_RANGE = range(-(2**31), 2**31)  # the column is a 32-bit integer


class Conveyor:
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
        self._tasks: dict[str, Task[Any]] = {}
        self._store: Store | None = None
        self._open_lock: asyncio.Lock | None = None
        self._wakeup_listeners: list[Callable[[], None]] = []
        self.hooks = Hooks()
        self._schedules = ScheduleAdmin(self)
        self.api_routers: list[Any] = []
        self.migration_steps: list[Callable[[str], Any]] = []
        self.services: list[Callable[[Conveyor], AbstractAsyncContextManager[Any]]] = []
        self.dashboard_pages: list[DashboardPage] = []

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

    # -- application extensions ---------------------------------------------------------

    def add_api_router(self, router: Any) -> None:
        """Serve an application's own FastAPI ``APIRouter`` in the HTTP API that
        ``create_api`` builds (add it before). Its routes answer errors in the API's JSON
        shape and take auth from ``conveyor.api.require_reader`` / ``require_admin``.
        ``router`` may also be a function of no arguments that returns the router: it is
        called only when the API is built, so a CLI command or a worker that loads the
        app never imports FastAPI (or whatever the routes need)."""
        self.api_routers.append(router)

    def add_migration(self, step: Callable[[str], Any]) -> None:
        """Run ``step(database_url)`` (sync, or a coroutine function) after the engine's
        own migrations, in ``app.migrate()`` (``conveyor migrate``) and when the store opens
        with ``auto_migrate``: an application's tables migrate with the queue's. A step
        must be idempotent (a no-op when its schema is current)."""
        self.migration_steps.append(step)

    def add_service(self, factory: Callable[[Conveyor], AbstractAsyncContextManager[Any]]) -> None:
        """A companion that ``conveyor serve`` runs for as long as it serves:
        ``factory(app)`` gives an async context manager entered before the API starts and
        exited after it stopped (e.g. a local mail sink for a demo)."""
        self.services.append(factory)

    def add_dashboard_page(
        self,
        path: str,
        title: str,
        render: PageRender,
        *,
        refresh_seconds: float | None = 5.0,
    ) -> DashboardPage:
        """Add a page to the dashboard: a nav entry ``title`` linking to ``path`` (e.g.
        ``"/campaigns"``), whose body ``await render(PageContext)`` returns as an HTML
        fragment (escaped by ``render``), shown in the dashboard's layout behind its login
        and refreshed in place every ``refresh_seconds``. See ``conveyor.page``. Raises
        ``ConfigurationError`` for a path the dashboard uses or one already added."""
        page = DashboardPage(path, title, render, refresh_seconds)
        if any(p.path == path for p in self.dashboard_pages):
            raise ConfigurationError(f"a dashboard page at {path!r} is already added")
        self.dashboard_pages.append(page)
        return page

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
            import inspect

            chosen = executor or ("async" if inspect.iscoroutinefunction(handler) else "thread")
            options = TaskOptions(
                queue=queue,
                priority=priority,
                max_attempts=max_attempts,
                timeout=timeout,
                retry=retry or RetryPolicy(),
                executor=chosen,
                flow=flow,
            )
            task_name = name or f"{handler.__module__}.{handler.__qualname__}"
            if task_name in self._tasks:
                raise ConfigurationError(f"a task named {task_name!r} is already registered")
            task: Task[Any] = Task(
                self,
                handler,
                name=task_name,
                payload_type=payload_type_of(handler, payload),
                options=options,
            )
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

    # -- enqueue ------------------------------------------------------------------------

    async def enqueue(
        self,
        task: str | Task[Any],
        payload: pydantic.BaseModel | Mapping[str, Any],
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
        jobs = await self._insert(
            task, [payload], run_at, delay, priority, queue, [idempotency_key], connection
        )
        return jobs[0].job

    async def enqueue_many(
        self,
        task: str | Task[Any],
        payloads: Sequence[pydantic.BaseModel | Mapping[str, Any]],
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
        outcome = await self._insert(
            task, payloads, run_at, delay, priority, queue, keys, connection
        )
        return [item.job for item in outcome]

    async def enqueue_outcome(
        self,
        task: str | Task[Any],
        payload: pydantic.BaseModel | Mapping[str, Any],
        *,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
    ) -> Inserted:
        """As ``enqueue``, also telling whether the job is new or already held the key."""
        outcome = await self._insert(
            task, [payload], run_at, delay, priority, queue, [idempotency_key], None
        )
        return outcome[0]

    async def _insert(
        self,
        task: str | Task[Any],
        payloads: Sequence[pydantic.BaseModel | Mapping[str, Any]],
        run_at: datetime | None,
        delay: timedelta | float | None,
        priority: int | None,
        queue: str | None,
        keys: Sequence[str | None],
        connection: Any,
    ) -> list[Inserted]:
        now = self.clock.now()

        def build(start: int, stop: int) -> list[NewJob]:
            with collector_paused():  # a chunk of payloads, models and jobs at once
                return self.build_jobs(
                    task,
                    payloads[start:stop],
                    run_at,
                    delay,
                    priority,
                    queue,
                    keys[start:stop],
                    now,
                )

        if connection is None and len(payloads) > ENQUEUE_CHUNK:
            return await self._insert_chunks(build, len(payloads), now)
        new_jobs = build(0, len(payloads))
        if not new_jobs:
            return []
        if connection is not None:
            # Only the store's SQL is needed: opening (or migrating) the store here would
            # take a second write lock while the caller's transaction holds the first.
            planner = self._store or store_for_url(self.settings.resolved_database_url)
            check_same_dialect(connection, planner.dialect)
            outcome = await run_plan(planner.plan_insert(new_jobs, now=now), connection)
        else:
            outcome = await (await self.store()).insert_jobs(jobs=new_jobs, now=now)
            self.wake_workers()
        return outcome

    async def _insert_chunks(
        self, build: Callable[[int, int], list[NewJob]], count: int, now: datetime
    ) -> list[Inserted]:
        """A large batch, built (``build(start, stop)``) and handed to the store chunk by
        chunk, all or nothing in one transaction: the store may write one chunk while the
        next is validated."""
        # The first chunk is built before the store opens, so that a bad argument or
        # payload there fails as it always did, without touching the database.
        first = build(0, ENQUEUE_CHUNK)
        rest = (
            build(start, start + ENQUEUE_CHUNK)
            for start in range(ENQUEUE_CHUNK, count, ENQUEUE_CHUNK)
        )
        store = await self.store()
        outcome = await store.insert_job_chunks(chunks=chain([first], rest), now=now)
        self.wake_workers()
        return outcome

    def build_jobs(
        self,
        task: str | Task[Any],
        payloads: Sequence[pydantic.BaseModel | Mapping[str, Any]],
        run_at: datetime | None,
        delay: timedelta | float | None,
        priority: int | None,
        queue: str | None,
        keys: Sequence[str | None],
        now: datetime,
    ) -> list[NewJob]:
        """Validate everything and describe the rows to insert; writes nothing."""
        resolved = self.get_task(task) if isinstance(task, str) else task
        when = _when(run_at, delay, now)
        if queue is not None and not queue:
            raise InvalidArgument("queue", "must not be empty")
        if priority is not None and priority not in PRIORITY_RANGE:
            raise InvalidArgument("priority", "must fit in a 32-bit integer")
        for key in keys:
            if key is not None and not (0 < len(key) <= 255):
                raise InvalidArgument("idempotency_key", "must be 1 to 255 characters")
        # PostgreSQL cannot store NUL in text or jsonb: refuse it here, on both stores alike.
        for field, text in (("queue", queue), *(("idempotency_key", k) for k in keys)):
            if text is not None and "\x00" in text:
                raise InvalidArgument(field, "must not contain NUL characters")
        options = resolved.options
        flow = options.flow
        models, dumped = resolved.dump_many(payloads)
        # NUL characters are refused when the batch is serialised (store/insert.py).
        shared: dict[str, Any] = {
            "task": resolved.name,
            "queue": queue or options.queue,
            "run_at": when,
            "priority": options.priority if priority is None else priority,
            "max_attempts": options.max_attempts,
            "timeout_seconds": options.timeout,
        }
        if not flow.shapes_jobs:
            each = {"payload": dumped, "idempotency_key": keys}
            return build_many(NewJob, len(dumped), each=each, shared=shared)
        return [
            NewJob(
                payload=payload,
                # A uniqueness window is an idempotency key naming the window.
                idempotency_key=key or flow.unique_idempotency_key(model, now),
                **shared,
                **flow.job_fields(resolved.name, model),
            )
            for model, payload, key in zip(models, dumped, keys, strict=True)
        ]

    def enqueue_sync(
        self,
        task: str | Task[Any],
        payload: pydantic.BaseModel | Mapping[str, Any],
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
        new_jobs = self.build_jobs(
            task, [payload], run_at, delay, priority, queue, [idempotency_key], now
        )
        store = store_for_url(self.settings.resolved_database_url)  # for its SQL only
        check_same_dialect(connection, store.dialect)
        return run_plan_sync(store.plan_insert(new_jobs, now=now), connection)[0].job

    # -- reading and administration -----------------------------------------------------

    async def get_job(self, job_id: int) -> Job:
        return await (await self.store()).get_job(job_id=job_id)

    async def list_jobs(
        self,
        *,
        state: str | JobState | Sequence[str | JobState] | None = None,
        task: str | Sequence[str] | None = None,
        queue: str | Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
        idempotency_key: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        finished_after: datetime | None = None,
        finished_before: datetime | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> Page:
        """One page of jobs, newest first; pass ``page.next_after`` as ``after`` for the next."""
        _check_page(limit)
        job_filter = JobFilter(
            states=_states(state),
            tasks=_names(task, self),
            queues=[queue] if isinstance(queue, str) else queue,
            ids=ids,
            idempotency_key=idempotency_key,
            created_after=_aware("created_after", created_after),
            created_before=_aware("created_before", created_before),
            finished_after=_aware("finished_after", finished_after),
            finished_before=_aware("finished_before", finished_before),
        )
        store = await self.store()
        return await store.list_jobs(filter=job_filter, after=after, limit=limit)

    async def cancel(self, job_id: int) -> Job:
        """Cancel a job that is not final; raises ``InvalidTransition`` otherwise."""
        store = await self.store()
        cancelled = await store.cancel_jobs(ids=[job_id], now=self.clock.now())
        if cancelled:
            return cancelled[0]
        job = await store.get_job(job_id=job_id)
        raise InvalidTransition(job_id, job.state.value, "cancel")

    async def retry(self, job_id: int) -> Job:
        """Make a ``failed`` or ``cancelled`` job ``available`` again."""
        store = await self.store()
        retried = await store.retry_jobs(ids=[job_id], now=self.clock.now())
        if retried:
            return retried[0]
        job = await store.get_job(job_id=job_id)
        raise InvalidTransition(job_id, job.state.value, "retry")

    async def retry_failed(
        self,
        *,
        ids: Sequence[int] | None = None,
        task: str | Sequence[str] | None = None,
        finished_after: datetime | None = None,
        finished_before: datetime | None = None,
    ) -> int:
        """Retry every failed job matching all the given conditions; returns how many."""
        job_filter = JobFilter(
            ids=ids,
            tasks=_names(task, self),
            finished_after=_aware("finished_after", finished_after),
            finished_before=_aware("finished_before", finished_before),
        )
        store = await self.store()
        return await store.retry_failed(filter=job_filter, now=self.clock.now())

    async def cancel_many(self, ids: Sequence[int]) -> list[Job]:
        """Cancel those of ``ids`` that are not final, in one statement; returns them.
        Callers pass a bounded batch (the dashboard: one page), so no lock is held long."""
        return await (await self.store()).cancel_jobs(ids=ids, now=self.clock.now())

    async def retry_many(self, ids: Sequence[int]) -> list[Job]:
        """Make those of ``ids`` that are ``failed`` or ``cancelled`` available again, in
        one statement; returns them. Callers pass a bounded batch, as for ``cancel_many``."""
        return await (await self.store()).retry_jobs(ids=ids, now=self.clock.now())

    async def rerun(self, job_id: int) -> Job:
        """Clone a finished job into a new one (``rerun_of`` = ``job_id``)."""
        store = await self.store()
        return await store.rerun_job(job_id=job_id, now=self.clock.now())

    async def stats(self, *, minutes: int = 15) -> JobStats:
        """Counts by queue and state, throughput per minute over the last ``minutes``, and
        the oldest due job still waiting."""
        now = self.clock.now()
        store = await self.store()
        return await store.job_stats(now=now, since=now - timedelta(minutes=minutes))

    async def sweep(self) -> list[int]:
        """Rescue expired leases now and wake every worker ("fetch tasks from the DB");
        returns the rescued job ids."""
        store = await self.store()
        rescued = await store.rescue_expired(now=self.clock.now(), limit=10_000)
        queues = sorted({count.queue for count in await store.count_jobs()})
        await store.notify_queues(queues=queues)
        self.wake_workers()
        return rescued

    async def workers(self, *, limit: int = 100) -> list[WorkerInfo]:
        """The worker registry, newest first: live, draining, stopped and dead workers."""
        return await (await self.store()).list_workers(limit=limit)

    async def counts(self) -> list[QueueCount]:
        return await (await self.store()).count_jobs()

    # -- batches (conveyor.batch) -------------------------------------------------------

    async def enqueue_batch(
        self,
        task: str | Task[Any],
        payloads: Sequence[pydantic.BaseModel | Mapping[str, Any]],
        *,
        callback: str | Task[Any] | None = None,
        callback_payload: pydantic.BaseModel | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        parent_id: int | None = None,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        priority: int | None = None,
        queue: str | None = None,
    ) -> Batch:
        """Enqueue a batch of child jobs of ``task`` in one round trip, with an optional
        ``callback`` task enqueued once when every child is final (see
        ``conveyor.batch``). A taken ``idempotency_key`` returns the batch holding it."""
        now = self.clock.now()
        batch, children = plan_batch(
            self,
            task,
            payloads,
            callback=callback,
            callback_payload=callback_payload,
            parent_id=parent_id,
            idempotency_key=idempotency_key,
            run_at=run_at,
            delay=delay,
            priority=priority,
            queue=queue,
            now=now,
        )
        created, _ = await (await self.store()).insert_batch(batch=batch, jobs=children, now=now)
        self.wake_workers()
        return created

    async def get_batch(self, batch_id: int) -> Batch:
        """Raises ``BatchNotFound``."""
        return await (await self.store()).get_batch(batch_id=batch_id)

    async def list_batches(
        self, *, unfinished: bool = False, after: int | None = None, limit: int = 100
    ) -> BatchPage:
        """One page of batches, newest first (``after``: ``next_after``); with
        ``unfinished``, only those whose children are not all final yet."""
        _check_page(limit)
        return await (await self.store()).list_recent_batches(
            unfinished_only=unfinished, after=after, limit=limit
        )

    async def batches_of(self, job_id: int) -> list[Batch]:
        """The batches a job created (``ctx.enqueue_batch``), oldest first."""
        return await (await self.store()).list_batches(parent_id=job_id)

    async def batch_jobs(
        self,
        batch_id: int,
        *,
        state: str | JobState | Sequence[str | JobState] | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> Page:
        """One page of a batch's children in creation order (``after``: ``next_after``)."""
        _check_page(limit)
        store = await self.store()
        await store.get_batch(batch_id=batch_id)  # raises BatchNotFound
        return await store.list_batch_jobs(
            batch_id=batch_id, states=_states(state), after=after, limit=limit
        )

    async def cancel_batch(self, batch_id: int) -> Batch:
        """Cancel every unfinished child of the batch; returns the batch afterwards."""
        store = await self.store()
        await store.cancel_batch(batch_id=batch_id, now=self.clock.now())
        return await store.get_batch(batch_id=batch_id)

    # -- why is it waiting (conveyor.explain) -------------------------------------------

    async def explain(self, job_id: int) -> Explanation:
        """Why job ``job_id`` is not running now, and until when where that is known
        (see ``conveyor.explain`` for the reasons). Raises ``JobNotFound``."""
        store = await self.store()
        job = await store.get_job(job_id=job_id)
        ttl = timedelta(seconds=self.settings.lease_ttl_seconds)
        return await explain(store, job, now=self.clock.now(), lease_ttl=ttl)

    # -- item ledger (conveyor.ledger) --------------------------------------------------

    async def job_items(
        self,
        job_id: int,
        *,
        outcome: str | ItemOutcome | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[ItemCounts, ItemPage]:
        """The per-outcome counts of the ledger ``job_id`` writes (its batch's, when it is
        a batch child) and one page of its items in key order (e.g. ``outcome="failed"``
        for the failed items with their reasons). Raises ``JobNotFound``."""
        _check_page(limit)
        try:
            wanted = None if outcome is None else ItemOutcome(outcome)
        except ValueError:
            raise InvalidArgument("outcome", "must be done, skipped or failed") from None
        store = await self.store()
        ledger = ledger_of(await store.get_job(job_id=job_id))
        counts = await store.count_items(ledger=ledger)
        page = await store.list_items(ledger=ledger, outcome=wanted, after=after, limit=limit)
        return counts, page

    # -- queues -------------------------------------------------------------------------

    async def queues(self) -> list[QueueInfo]:
        """Every queue, by name: those holding jobs, those paused, and those the registered
        tasks name (with zero counts until jobs arrive)."""
        store = await self.store()
        listed = {q.name: q for q in await store.list_queues(now=self.clock.now())}
        for task in self._tasks.values():
            listed.setdefault(task.options.queue, QueueInfo.empty(task.options.queue))
        return [listed[name] for name in sorted(listed)]

    async def pause_queue(self, name: str) -> QueueInfo:
        """Stop workers claiming from queue ``name``; jobs keep being accepted and wait,
        running jobs finish. Idempotent; any name may be paused, even before its first job."""
        store = await self.store()
        await store.pause_queue(queue=_queue_name(name), now=self.clock.now())
        return await self._queue(store, name)

    async def resume_queue(self, name: str) -> QueueInfo:
        """Let workers claim from queue ``name`` again, waking them now. Idempotent."""
        store = await self.store()
        if await store.resume_queue(queue=_queue_name(name), now=self.clock.now()):
            self.wake_workers()  # the store wakes other processes' workers itself
        return await self._queue(store, name)

    async def _queue(self, store: Store, name: str) -> QueueInfo:
        for queue in await store.list_queues(now=self.clock.now()):
            if queue.name == name:
                return queue
        return QueueInfo.empty(name)

    # -- dashboard figures --------------------------------------------------------------

    async def activity(self) -> Activity:
        """Runs ended per minute over the last hour and per hour over the last day, by
        outcome, summed from the workers' tallies (one read of the worker registry, never
        of the jobs table)."""
        tallies = await (await self.store()).worker_tallies()
        return Tally.merged(list(tallies)).activity(self.clock.now())


def _check_page(limit: int) -> None:
    """The one bound on a page of listed rows, shared by every listing method."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument("limit", f"must be between 1 and {MAX_PAGE}")


def _queue_name(name: str) -> str:
    if not name:
        raise InvalidArgument("queue", "must not be empty")
    if "\x00" in name:
        raise InvalidArgument("queue", "must not contain NUL characters")
    return name


def _when(run_at: datetime | None, delay: timedelta | float | None, now: datetime) -> datetime:
    if run_at is not None and delay is not None:
        raise InvalidArgument("run_at", "give run_at or delay, not both")
    if run_at is not None:
        return _aware("run_at", run_at) or now
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        if not 0 <= seconds <= MAX_DELAY.total_seconds():
            raise InvalidArgument("delay", f"must be between 0 and {MAX_DELAY.days} days")
        return now + timedelta(seconds=seconds)
    return now


def _aware(field: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidArgument(field, "must be timezone-aware (e.g. datetime.now(UTC))")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidArgument(field, "is out of range once converted to UTC") from None


def _states(
    state: str | JobState | Sequence[str | JobState] | None,
) -> list[JobState] | None:
    if state is None:
        return None
    values = [state] if isinstance(state, str) else list(state)
    try:
        return [JobState(v) for v in values]
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise InvalidArgument("state", f"unknown state in {values!r}; known: {known}") from None


def _names(task: str | Sequence[str] | None, app: Conveyor) -> list[str] | None:
    if task is None:
        return None
    names = [task] if isinstance(task, str) else list(task)
    # A registered short name means its full name; unknown names filter as given, so that
    # jobs of tasks this process does not register can still be listed.
    resolved = []
    for name in names:
        try:
            resolved.append(app.get_task(name).name)
        except TaskNotFound:
            resolved.append(name)
    return resolved
