"""``conveyor batches list|show|cancel``: batches, their counts, callback and children."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from conveyor.cli.command import console, run, with_app
from conveyor.cli.render import jobs_table, print_json

if TYPE_CHECKING:
    from rich.table import Table

    from conveyor.app import Conveyor
    from conveyor.batches import Batch
    from conveyor.job import Job, Page

COUNTS = ("completed", "failed", "cancelled", "pending")


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _progress(batch: Batch) -> str:
    done = batch.total - batch.pending
    return f"{done}/{batch.total} ({100 * done // batch.total}%)" if batch.total else "0/0"


def _callback(batch: Batch) -> str:
    """The callback job once enqueued; "pending" while the batch still owes it."""
    if batch.callback_task is None:
        return ""
    return "pending" if batch.callback_job_id is None else f"job {batch.callback_job_id}"


def batches_table(batches: Sequence[Batch]) -> Table:
    """One row per batch, narrow enough for an 80-column terminal (``show`` says more)."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("id", "parent", "done", *COUNTS, "callback", "created"):
        table.add_column(column, no_wrap=True)
    for batch in batches:
        table.add_row(
            str(batch.id),
            "" if batch.parent_id is None else str(batch.parent_id),
            f"{batch.total - batch.pending}/{batch.total}",
            *(str(getattr(batch, count)) for count in COUNTS),
            _callback(batch),
            batch.created_at.strftime("%m-%d %H:%M"),
        )
    return table


@click.group()
def batches() -> None:
    """See batches (counts, callback, children); cancel one."""


@batches.command("list")
@click.option("--unfinished", is_flag=True, help="Only batches with children still pending.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--after", type=int, help="Cursor: the last id of the previous page.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@run
async def list_batches(
    ctx: click.Context, unfinished: bool, limit: int, after: int | None, as_json: bool
) -> None:
    """List batches, newest first."""
    page = await with_app(
        ctx, lambda app: app.list_batches(unfinished=unfinished, after=after, limit=limit)
    )
    if as_json:
        print_json({"batches": [b.to_json() for b in page.batches], "next_after": page.next_after})
        return
    console().print(batches_table(page.batches))
    if page.next_after is not None:
        console().print(f"more: --after {page.next_after}")


async def _shown(app: Conveyor, batch_id: int, limit: int) -> tuple[Batch, Job | None, Page]:
    """The batch, its callback job (once enqueued) and its first ``limit`` children."""
    batch = await app.get_batch(batch_id)
    children = await app.batch_jobs(batch_id, limit=limit)
    callback = None
    if batch.callback_job_id is not None:
        callback = await app.get_job(batch.callback_job_id)
    return batch, callback, children


@batches.command("show")
@click.argument("batch_id", type=int)
@click.option("--limit", type=int, default=20, show_default=True, help="Children to list.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@run
async def show_batch(ctx: click.Context, batch_id: int, limit: int, as_json: bool) -> None:
    """Show a batch: its counts and progress, its callback job and its first children."""
    batch, callback, children = await with_app(ctx, lambda app: _shown(app, batch_id, limit))
    if as_json:
        shown: dict[str, Any] = {
            "batch": batch.to_json(),
            "callback_job": None if callback is None else callback.to_json(),
            "children": [j.to_json() for j in children.jobs],
            "next_after": children.next_after,
        }
        print_json(shown)
        return
    parent = "" if batch.parent_id is None else f", created by job {batch.parent_id}"
    state = "finished" if batch.is_finished else "running"
    console().print(f"batch {batch.id} ({state}{parent}): {_progress(batch)} done", markup=False)
    console().print("  ".join(f"{count} {getattr(batch, count)}" for count in COUNTS))
    if batch.callback_task is None:
        console().print("callback: none")
    elif callback is None:
        console().print(f"callback: {batch.callback_task}, enqueued when every child is final")
    else:
        console().print(f"callback: job {callback.id} ({callback.task}) {callback.state.value}")
    console().print(jobs_table(children.jobs, title=f"children (first {len(children.jobs)})"))
    if children.next_after is not None:
        console().print(f"{len(children.jobs)} of {batch.total} children shown: raise --limit")


@batches.command("cancel")
@click.argument("batch_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@run
async def cancel_batch(ctx: click.Context, batch_id: int, as_json: bool) -> None:
    """Cancel every unfinished child of a batch (its callback then reports them)."""
    batch = await with_app(ctx, lambda app: app.cancel_batch(batch_id))
    if as_json:
        print_json(batch.to_json())
        return
    console().print(
        f"batch {batch.id}: {batch.cancelled} cancelled, {batch.completed} completed, "
        f"{batch.failed} failed, {batch.pending} pending"
    )
