"""``conveyor serve`` (API + worker in one process) and ``conveyor api`` (the API alone)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta

import uvicorn
from rich.console import Console

from conveyor.alerts.rules import start_alerts
from conveyor.api import create_api
from conveyor.api.auth import parse_tokens
from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.logs import configure_logging
from conveyor.scheduler.scheduler import Scheduler
from conveyor.worker.worker import Worker, WorkerOptions


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: it re-raises SIGTERM once it has stopped,
    which would kill the process before the worker drains. ``serve`` handles signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(app: Conveyor, host: str) -> None:
    """Without tokens the API is open to anyone who can reach it: loopback only."""
    if not parse_tokens(app.settings.api_token) and not is_loopback(host):
        raise ConfigurationError(
            f"refusing to serve on {host} without CONVEYOR_API_TOKEN: anyone who can reach "
            "it could enqueue and cancel jobs. Set tokens, or bind to 127.0.0.1."
        )


async def serve(
    app: Conveyor,
    *,
    host: str,
    port: int,
    with_worker: bool,
    concurrency: int,
    console: Console,
    with_scheduler: bool = True,
) -> None:
    check_binding(app, host)
    configure_logging(app.settings.log_format)
    store = await app.store()
    api = create_api(app, expect_workers=with_worker)
    server = _Server(uvicorn.Config(api, host=host, port=port, log_level="info", lifespan="off"))
    worker = (
        Worker(
            app,
            WorkerOptions(
                max_concurrency=concurrency,
                lease_ttl=timedelta(seconds=app.settings.lease_ttl_seconds),
                rescue_interval=timedelta(seconds=min(5.0, app.settings.lease_ttl_seconds / 2)),
            ),
        )
        if with_worker
        else None
    )
    if not parse_tokens(app.settings.api_token):
        console.print("[yellow]no CONVEYOR_API_TOKEN: serving on loopback only, without auth[/]")
    console.print(
        f"Conveyor on {store.url}: API at http://{host}:{port}/docs"
        + (f", worker {worker.id}" if worker else ", no worker")
        + (", scheduler" if with_scheduler else ", no scheduler")
    )
    services = contextlib.AsyncExitStack()
    for service in app.services:  # the application's companions (app.add_service)
        await services.enter_async_context(service(app))
    alerts = (
        await start_alerts(app, on_delivery_failure=worker.tally.alert_failed)
        if worker is not None
        else None
    )
    tasks = [asyncio.create_task(server.serve(), name="conveyor-api")]
    if worker is not None:
        tasks.append(asyncio.create_task(worker.run(), name="conveyor-worker"))
    scheduler = Scheduler(app) if with_scheduler else None
    firing = asyncio.create_task(scheduler.run(), name="conveyor-scheduler") if scheduler else None

    def on_signal() -> None:
        server.should_exit = True  # stop taking requests; the worker drains on its own signal

    loop = asyncio.get_running_loop()
    if worker is None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
    else:
        handler = _chained(on_signal, worker)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, handler)
    try:
        await tasks[0]
    finally:
        if scheduler is not None and firing is not None:
            scheduler.stop()
            await firing
        if worker is not None:
            worker.stop()
            await tasks[1]
        if alerts is not None:
            await alerts.close()
        await services.aclose()
        await app.close()


def _chained(stop_api: Callable[[], None], worker: Worker) -> Callable[[], None]:
    """One signal stops both: the API closes, the worker drains (a second signal forces)."""
    seen = 0

    def handle() -> None:
        nonlocal seen
        seen += 1
        stop_api()
        if seen == 1:
            worker.stop()
        else:
            worker.force_stop()

    return handle
