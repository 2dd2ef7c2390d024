"""The ``conveyor demo`` walk-through that ``make run`` starts with."""

from __future__ import annotations

from rich.console import Console

from conveyor.app import Conveyor
from conveyor.cli.render import jobs_table
from conveyor.testing import drain

DEMO_RECEIPTS = [
    {
        "customer_email": "ana@example.com",
        "customer_name": "Ana",
        "wash": "deluxe",
        "amount_cents": 2499,
    },
    {
        "customer_email": "bo@example.com",
        "customer_name": "Bo",
        "wash": "express",
        "amount_cents": 999,
    },
    {
        "customer_email": "cy@example.com",
        "customer_name": "Cy",
        "wash": "interior",
        "amount_cents": 1899,
    },
]


async def run_demo(app: Conveyor, console: Console) -> None:
    try:
        version = await app.migrate()
        console.print(
            f"[bold]1.[/] migrated {app.settings.resolved_database_url} (schema v{version})"
        )
        jobs = await app.enqueue_many("receipts.send", DEMO_RECEIPTS)
        console.print(f"[bold]2.[/] enqueued {len(jobs)} receipts.send jobs in one round trip")
        console.print(jobs_table(jobs, title="just enqueued"))
        ran = await drain(app)
        console.print(f"[bold]3.[/] ran {ran} jobs in this process (conveyor.testing.drain)")
        done = [await app.get_job(job.id) for job in jobs]
        console.print(jobs_table(done, title="after running"))
        console.print("[bold]4.[/] the first receipt, as the job's stored result:")
        console.print(
            done[0].result["body"] if isinstance(done[0].result, dict) else done[0].result
        )
        console.print(
            "Next: `.venv/bin/conveyor jobs list`, `.venv/bin/conveyor jobs show "
            f"{done[0].id}`. The worker, HTTP API and dashboard arrive with their issues."
        )
    finally:
        await app.close()
