"""Printing jobs for people (rich tables) and for machines (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from conveyor.job import Job

# By state name (a JobState is its name): rendering needs no import of the job module.
_STATE_STYLE = {
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "running": "cyan",
    "retrying": "yellow",
}


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def jobs_table(jobs: Sequence[Job], title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in ("id", "task", "queue", "state", "attempt", "run at", "finished"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        style = _STATE_STYLE.get(job.state, "")
        table.add_row(
            str(job.id),
            job.task,
            job.queue,
            f"[{style}]{job.state.value}[/]" if style else job.state.value,
            f"{job.attempt}/{job.max_attempts}",
            _when(job.run_at),
            _when(job.finished_at),
        )
    return table


def print_job(console: Console, job: Job) -> None:
    console.print(jobs_table([job]))
    console.print_json(json.dumps({"payload": job.payload, "result": job.result}, default=str))
    for error in job.errors:
        console.print(f"[red]attempt {error.attempt}: {error.type}: {error.message}[/]")
