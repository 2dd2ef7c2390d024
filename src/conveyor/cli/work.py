"""``conveyor worker``: one worker runtime, or a supervisor over several processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import Callable, Sequence
from datetime import timedelta

from conveyor.alerts.rules import Alerts, start_alerts
from conveyor.app import Conveyor
from conveyor.cli.extras import load
from conveyor.logs import configure_logging
from conveyor.scheduler.scheduler import Scheduler
from conveyor.settings import Settings
from conveyor.worker.supervisor import Supervisor, worker_command
from conveyor.worker.worker import Worker, WorkerOptions

STARTUP_GRACE_SECONDS = 1.0


def _rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux: the peak, which is what recycling should bound.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_worker(
    app: Conveyor,
    *,
    queues: Sequence[str] | None,
    concurrency: int,
    max_jobs: int | None,
    max_memory_mb: int | None,
    drain_timeout: float,
    poll_interval: float,
    echo: Callable[[str], None],
    with_scheduler: bool = True,
    max_prefetch: int | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    configure_logging(app.settings.log_format)
    worker = Worker(
        app,
        WorkerOptions(
            queues=queues,
            max_concurrency=concurrency,
            drain_timeout=timedelta(seconds=drain_timeout),
            poll_interval=timedelta(seconds=poll_interval),
            lease_ttl=timedelta(seconds=app.settings.lease_ttl_seconds),
            # Look for dead workers' jobs at least twice per lease: a rescue then comes
            # at most half a lease after the expiry.
            rescue_interval=timedelta(seconds=min(5.0, app.settings.lease_ttl_seconds / 2)),
            max_jobs=max_jobs,
            max_prefetch=max_prefetch,
        ),
    )
    ready = worker.options.prefetch_cap
    kept_ready = "no prefetch" if ready == 0 else f"prefetch up to {ready}"
    # A plain line, not rich's: a worker prints nothing else, and rich is slow to import.
    echo(
        f"worker {worker.id} serving {', '.join(queues) if queues else 'all queues'} "
        f"on {(await app.store()).url} (concurrency {concurrency}, {kept_ready}"
        + (", scheduler on)" if with_scheduler else ", no scheduler)")
    )
    if metrics_port is not None:
        endpoint = load("conveyor.metrics.endpoint", command="conveyor worker", extra="metrics")
        bound = endpoint.serve_worker_metrics(worker, host=metrics_host, port=metrics_port)
        echo(f"worker metrics at http://{metrics_host}:{bound}/metrics")
    alerts = await start_alerts(app, on_delivery_failure=worker.tally.alert_failed)
    runner = asyncio.create_task(worker.run(handle_signals=True))
    watcher = asyncio.create_task(_recycle_when_too_big(worker, max_memory_mb, alerts))
    scheduler = Scheduler(app) if with_scheduler else None
    firing = None
    if scheduler is not None:
        firing = asyncio.create_task(_schedule_once_started(worker, scheduler))
    try:
        await runner
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if scheduler is not None and firing is not None:
            scheduler.stop()
            await firing
        if alerts is not None:
            await alerts.close()
        await app.close()


async def _schedule_once_started(
    worker: Worker, scheduler: Scheduler, *, grace: float = STARTUP_GRACE_SECONDS
) -> None:
    """Run the scheduler once the worker has started: its own start (saving schedules,
    startup fires, a maintenance pass) is a dozen statements that would otherwise race the
    first claim, and the acks of the jobs it took, for the process's CPU and the store's
    connections. Jobs that run long hold the scheduler back by ``grace`` seconds at most."""
    await worker.wait_started()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            # Every job taken so far: those finished (acked or not yet) and those held.
            await worker.wait_acked(worker.completed + worker.held_count)
    await scheduler.run()


async def _recycle_when_too_big(
    worker: Worker, max_memory_mb: int | None, alerts: Alerts | None = None
) -> None:
    """Stop the worker gracefully once it grew past ``max_memory_mb``; the supervisor then
    starts a fresh process (a leaking handler cannot grow forever). The job-count limit is
    the worker's own ``max_jobs``."""
    if max_memory_mb is None:
        return
    while True:
        await asyncio.sleep(0.5)
        if _rss_mb() > max_memory_mb:
            logging.getLogger("conveyor.worker").info("recycling at %.0f MB", _rss_mb())
            worker.stop()
            if alerts is not None:
                await alerts.worker_recycled(worker.id, _rss_mb(), max_memory_mb)
            return


def run_supervisor(argv: Sequence[str], processes: int) -> int:
    """Run ``processes`` children with the same arguments minus ``--processes``."""
    child_args = [*_without_processes(list(argv)), "--supervised"]
    configure_logging(Settings().log_format)
    return Supervisor(worker_command(child_args), processes).run()


def _without_processes(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--processes":
            skip = True
            continue
        if arg.startswith("--processes="):
            continue
        out.append(arg)
    return out
