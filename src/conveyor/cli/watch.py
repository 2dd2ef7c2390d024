"""``conveyor jobs watch ID``: follow one job until it is final, with a live progress bar."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from conveyor.cli.command import app_from, console, run
from conveyor.cli.render import print_json
from conveyor.errors import InvalidArgument, JobNotFound
from conveyor.job import Job, JobState

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from conveyor.app import Conveyor

EXIT_COMPLETED = 0
EXIT_FAILED = 1  # failed or cancelled

Show = Callable[[Job], None]


def describe(job: Job) -> str:
    """One line: the job's state, attempt and progress."""
    line = f"job {job.id} {job.task}: {job.state.value}, attempt {job.attempt}/{job.max_attempts}"
    if job.progress is not None:
        total = "?" if job.progress.total is None else str(job.progress.total)
        line += f", {job.progress.done}/{total}"
    return line


async def follow(app: Conveyor, job_id: int, interval: float, show: Show) -> Job:
    """Poll the store every ``interval`` seconds, calling ``show`` with each snapshot that
    differs from the last, until the job is final; returns the final job."""
    try:
        job = await app.get_job(job_id)
    except JobNotFound:
        raise InvalidArgument("job_id", f"there is no job {job_id}") from None
    last = None
    while True:
        seen = (job.state, job.attempt, job.progress)
        if seen != last:
            show(job)
            last = seen
        if job.state.is_final:
            return job
        await asyncio.sleep(interval)
        job = await app.get_job(job_id)


class Bar:
    """The live bar on a terminal: done/total from the job's progress (a pulse while the
    total is unknown), with its state and attempt."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]job {task.fields[job_id]}[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]} · attempt {task.fields[attempt]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID | None = None

    def show(self, job: Job) -> None:
        from rich.markup import escape

        done, total = (0, None) if job.progress is None else (job.progress.done, job.progress.total)
        if job.state is JobState.COMPLETED and total is None:
            done = total = max(done, 1)  # finished without a known total: a full bar
        state, attempt = job.state.value, f"{job.attempt}/{job.max_attempts}"
        if self.task is None:
            self.task = self.progress.add_task(
                escape(job.task),
                total=total,
                completed=done,
                job_id=job.id,
                state=state,
                attempt=attempt,
            )
        else:
            self.progress.update(
                self.task, total=total, completed=done, state=state, attempt=attempt
            )


def _summary(job: Job) -> str:
    from rich.markup import escape

    style = "green" if job.state is JobState.COMPLETED else "red"
    text = f"[{style}]job {job.id} {job.state.value}[/] after attempt {job.attempt}"
    if job.state is JobState.FAILED and job.errors:
        last = job.errors[-1]
        text += escape(f": {last.type}: {last.message}")
    return text


def _print_line(job: Job) -> None:
    console().print(describe(job), markup=False, highlight=False)


async def watch_job(app: Conveyor, job_id: int, interval: float, as_json: bool) -> int:
    try:
        if as_json:
            job = await follow(app, job_id, interval, lambda _: None)
            print_json(job.to_json())
        elif console().is_terminal:
            bar = Bar(console())
            with bar.progress:
                job = await follow(app, job_id, interval, bar.show)
            console().print(_summary(job), highlight=False)
        else:
            # Piped output gets one line per change instead of a redrawn bar.
            job = await follow(app, job_id, interval, _print_line)
            console().print(_summary(job), highlight=False)
    finally:
        await app.close()
    return EXIT_COMPLETED if job.state is JobState.COMPLETED else EXIT_FAILED


@click.command("watch")
@click.argument("job_id", type=int)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=0.5,
    show_default=True,
    help="Seconds between two reads of the job.",
)
@click.option("--json", "as_json", is_flag=True, help="No bar: print the final job as JSON.")
@click.pass_context
def watch(ctx: click.Context, job_id: int, interval: float, as_json: bool) -> None:
    """Follow job JOB_ID with a live progress bar until it is final.

    Exits 0 when it completed, 1 when it failed or was cancelled, 2 when there is no such job.
    """
    sys.exit(run(watch_job)(app_from(ctx), job_id, interval, as_json))
