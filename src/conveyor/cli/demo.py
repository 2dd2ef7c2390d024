"""The ``conveyor demo`` walk-through that ``make run`` starts with."""

from __future__ import annotations

import asyncio

from rich.console import Console

from conveyor.app import Conveyor
from conveyor.cli.render import jobs_table
from conveyor.worker.worker import Worker, WorkerOptions

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
        worker = Worker(app, WorkerOptions(max_concurrency=4))
        running = asyncio.create_task(worker.run())
        await asyncio.wait_for(worker.wait_acked(len(jobs)), timeout=60)
        worker.stop()
        await running
        console.print(f"[bold]3.[/] a worker ({worker.id}) ran them and acknowledged in batches")
        done = [await app.get_job(job.id) for job in jobs]
        console.print(jobs_table(done, title="after running"))
        console.print("[bold]4.[/] the first receipt, as the job's stored result:")
        console.print(
            done[0].result["body"] if isinstance(done[0].result, dict) else done[0].result
        )
        console.print(
            "[bold]5.[/] next, `make run` starts the API and a worker: "
            "http://127.0.0.1:8000/docs. Try:\n"
            "  curl -X POST http://127.0.0.1:8000/api/tasks/receipts.send "
            "-H 'content-type: application/json' \\\n"
            '       -d \'{"customer_email": "ana@example.com", "customer_name": "Ana", '
            '"wash": "deluxe", "amount_cents": 2499}\'\n'
            "  curl http://127.0.0.1:8000/api/jobs?limit=5\n"
            "  .venv/bin/conveyor jobs list",
            soft_wrap=True,  # keep the commands on one line each, for copy and paste
        )
    finally:
        await app.close()
