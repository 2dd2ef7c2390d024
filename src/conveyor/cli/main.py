"""``conveyor`` commands: migrate, enqueue, jobs …, queues …, batches …, worker, serve, demo.

Importing this module imports click and the commands' definitions, nothing more: each
command imports what it runs (the app, rich, the worker, the API) when it runs, so that
``conveyor worker`` loads neither the API nor the tables it never prints.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from conveyor.cli.batches import batches
from conveyor.cli.command import app_from, console, parse_payload, run, with_app
from conveyor.cli.extras import load
from conveyor.cli.queues import queues
from conveyor.cli.render import jobs_table, print_job, print_json
from conveyor.cli.retry import retry
from conveyor.cli.schedules import schedules_group
from conveyor.cli.startup import defer_collection, startup_over
from conveyor.cli.watch import watch

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.job import Job


@click.group()
@click.option("--app", "app_spec", envvar="CONVEYOR_APP", help="module:attribute of the app.")
@click.option("--database-url", envvar="CONVEYOR_DATABASE_URL", help="Overrides the app's.")
@click.pass_context
def cli(ctx: click.Context, app_spec: str | None, database_url: str | None) -> None:
    """Conveyor: durable background jobs on SQLite or PostgreSQL."""
    ctx.ensure_object(dict)
    ctx.obj.update(app=app_spec, database_url=database_url)


@cli.command()
@click.pass_context
@run
async def migrate(ctx: click.Context) -> None:
    """Apply missing schema migrations (safe to run from several processes at once)."""
    app = app_from(ctx)
    version = await app.migrate()
    console().print(f"schema at version {version} on {app.settings.resolved_database_url}")


@cli.command()
@click.argument("task")
@click.option("--json", "payload_json", help="The payload as a JSON object.")
@click.option(
    "--file", "payload_file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--delay", type=float, help="Seconds to wait before the job may run.")
@click.option("--priority", type=int)
@click.option("--queue")
@click.option("--idempotency-key")
@click.option("--json-output", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_context
@run
async def enqueue(
    ctx: click.Context,
    task: str,
    payload_json: str | None,
    payload_file: Path | None,
    delay: float | None,
    priority: int | None,
    queue: str | None,
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    """Enqueue one job of TASK."""
    text = payload_file.read_text(encoding="utf-8") if payload_file else (payload_json or "{}")
    payload = parse_payload(text)
    job = await with_app(
        ctx,
        lambda app: app.enqueue(
            task,
            payload,
            delay=delay,
            priority=priority,
            queue=queue,
            idempotency_key=idempotency_key,
        ),
    )
    if as_json:
        print_json(job.to_json())
    else:
        console().print(f"enqueued job {job.id} ({job.task}, queue {job.queue}, {job.state.value})")


@cli.group()
def jobs() -> None:
    """Inspect and manage jobs."""


@jobs.command("list")
@click.option("--state", multiple=True)
@click.option("--task", multiple=True)
@click.option("--queue", multiple=True)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--after", type=int, help="Cursor: the last id of the previous page.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@run
async def list_jobs(
    ctx: click.Context,
    state: tuple[str, ...],
    task: tuple[str, ...],
    queue: tuple[str, ...],
    limit: int,
    after: int | None,
    as_json: bool,
) -> None:
    """List jobs, newest first."""
    page = await with_app(
        ctx,
        lambda app: app.list_jobs(
            state=list(state) or None,
            task=list(task) or None,
            queue=list(queue) or None,
            after=after,
            limit=limit,
        ),
    )
    if as_json:
        print_json({"jobs": [j.to_json() for j in page.jobs], "next_after": page.next_after})
        return
    console().print(jobs_table(page.jobs))
    if page.next_after is not None:
        console().print(f"more: --after {page.next_after}")


def _job_command(name: str, action: str, help_text: str) -> None:
    @jobs.command(name, help=help_text)
    @click.argument("job_id", type=int)
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    @run
    async def command(ctx: click.Context, job_id: int, as_json: bool) -> None:
        operations: dict[str, Callable[[Conveyor], Awaitable[Job]]] = {
            "show": lambda app: app.get_job(job_id),
            "cancel": lambda app: app.cancel(job_id),
            "rerun": lambda app: app.rerun(job_id),
        }
        job = await with_app(ctx, operations[action])
        if as_json:
            print_json(job.to_json())
        else:
            print_job(console(), job)


@jobs.command("why")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@run
async def why(ctx: click.Context, job_id: int, as_json: bool) -> None:
    """Say why a job is not running (scheduled, backing off, rate limit, concurrency key,
    no worker for its queue, stale lease ...), and until when where known."""
    explanation = await with_app(ctx, lambda app: app.explain(job_id))
    if as_json:
        print_json(explanation.to_json())
        return
    until = "" if explanation.until is None else f" (until {explanation.until.isoformat()})"
    console().print(
        f"job {job_id} [{explanation.state.value}] {explanation.reason}: "
        f"{explanation.message}{until}",
        highlight=False,
        markup=False,
    )


_job_command("show", "show", "Show one job.")
_job_command("cancel", "cancel", "Cancel a job that has not finished.")
_job_command("rerun", "rerun", "Clone a finished job into a new one.")
jobs.add_command(retry)
jobs.add_command(watch)


cli.add_command(queues)
cli.add_command(batches)


@cli.command()
@click.option("--queues", help="Comma-separated queues to serve (default: all).")
@click.option("--concurrency", type=int, default=10, show_default=True, help="Most jobs at once.")
@click.option(
    "--max-prefetch",
    type=click.IntRange(min=0),
    help="Most claimed jobs kept ready beyond --concurrency, only while jobs are short "
    "against a claim's round trip (default: --concurrency; 0: none).",
)
@click.option("--processes", type=int, default=1, show_default=True, help="Worker processes.")
@click.option("--max-jobs-per-child", type=int, help="Recycle a process after this many jobs.")
@click.option("--max-memory-per-child", type=int, help="Recycle a process past this RSS (MB).")
@click.option("--drain-timeout", type=float, default=30.0, show_default=True)
@click.option("--poll-interval", type=float, default=1.0, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not fire schedules in this process.")
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    help="Also serve this process's own Prometheus metrics on this port (one process only).",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--supervised", is_flag=True, hidden=True, help="Set by the supervisor on children.")
@click.pass_context
def worker(
    ctx: click.Context,
    queues: str | None,
    concurrency: int,
    max_prefetch: int | None,
    processes: int,
    max_jobs_per_child: int | None,
    max_memory_per_child: int | None,
    drain_timeout: float,
    poll_interval: float,
    no_scheduler: bool,
    metrics_port: int | None,
    metrics_host: str,
    supervised: bool,
) -> None:
    """Run jobs until SIGTERM/SIGINT (a second signal forces the hand-back).

    With --processes N, or with a recycling limit, a supervisor runs the worker
    processes, restarting crashed ones and replacing recycled ones.
    """
    from conveyor.cli.work import run_supervisor, run_worker

    recycling = max_jobs_per_child is not None or max_memory_per_child is not None
    if metrics_port is not None and (processes > 1 or recycling):
        raise click.UsageError(
            "--metrics-port serves one process: drop --processes and recycling, or scrape "
            "the cluster's figures at /metrics of `conveyor api`"
        )
    if not supervised and (processes > 1 or recycling):
        startup_over()  # the supervisor loads no app: its start-up is over now
        sys.exit(run_supervisor(sys.argv[1:], processes))
    run(run_worker)(
        app_from(ctx),
        queues=[q.strip() for q in queues.split(",") if q.strip()] if queues else None,
        concurrency=concurrency,
        max_prefetch=max_prefetch,
        max_jobs=max_jobs_per_child,
        max_memory_mb=max_memory_per_child,
        drain_timeout=drain_timeout,
        poll_interval=poll_interval,
        echo=click.echo,
        with_scheduler=not no_scheduler,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )


def load_serve(command: str) -> Any:
    """The ``serve`` coroutine, or a clear error naming the API extra when it is missing."""
    return load("conveyor.cli.serve", command=command, extra="api").serve


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-worker", is_flag=True, help="Serve the API only.")
@click.option("--no-scheduler", is_flag=True, help="Do not fire schedules in this process.")
@click.option("--concurrency", type=int, default=10, show_default=True)
@click.pass_context
@run
async def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    no_worker: bool,
    no_scheduler: bool,
    concurrency: int,
) -> None:
    """Run the HTTP API, the dashboard and a worker in one process."""
    serve = load_serve("conveyor serve")

    await serve(
        app_from(ctx),
        host=host,
        port=port,
        with_worker=not no_worker,
        concurrency=concurrency,
        console=console(),
        with_scheduler=not no_scheduler,
    )


@cli.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.pass_context
@run
async def api_command(ctx: click.Context, host: str, port: int) -> None:
    """Run the HTTP API alone."""
    serve = load_serve("conveyor api")

    await serve(
        app_from(ctx),
        host=host,
        port=port,
        with_worker=False,
        concurrency=1,
        console=console(),
        with_scheduler=False,
    )


@cli.command()
@click.pass_context
@run
async def demo(ctx: click.Context) -> None:
    """Migrate, enqueue the car-wash demo jobs, run them in this process, and show them."""
    from conveyor.cli.demo import run_demo

    await run_demo(app_from(ctx), console())


cli.add_command(schedules_group(run, app_from, console))


@cli.command()
@click.option("--max-skew", type=float, default=2.0, show_default=True, help="Seconds.")
@click.option("--min-free-mb", type=int, default=100, show_default=True, help="SQLite's disk.")
@click.pass_context
def doctor(ctx: click.Context, max_skew: float, min_free_mb: int) -> None:
    """Check the deployment: database, schema, clock, NOTIFY, workers, leases, disk."""
    from datetime import timedelta

    from conveyor.cli.doctor import render
    from conveyor.doctor import Limits, diagnose

    limits = Limits(max_skew=timedelta(seconds=max_skew), min_free_mb=min_free_mb)
    checks = run(diagnose)(app_from(ctx), limits)
    sys.exit(render(checks, console()))


def main() -> None:
    defer_collection()
    try:
        cli(prog_name="conveyor")
    finally:
        startup_over()  # a command that loaded no app (--help, a usage error)
