"""Two ``conveyor worker`` processes on one database raise the same incident: one mail."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conveyor import JobState
from tests.alerts.burst_app import Brush, build
from tests.alerts.servers import smtp_server
from tests.cli.conftest import ROOT
from tests.store.helpers import raw_execute

WORKER = [sys.executable, "-m", "conveyor.cli", "worker", "--no-scheduler", "--queues", "brushes"]


async def test_two_workers_send_one_alert(store_url: str, tmp_path: Path) -> None:
    app = build(store_url)
    jobs = [await app.enqueue("brush", Brush(n=n)) for n in range(10)]
    with smtp_server() as (smtp_url, inbox):
        env = {
            **os.environ,
            "CONVEYOR_DATABASE_URL": store_url,
            "CONVEYOR_APP": "tests.alerts.burst_app:app",
            "CONVEYOR_SMTP_URL": smtp_url,
            "CONVEYOR_ALERT_EMAIL": "ops@example.com",
            "PYTHONPATH": str(ROOT),
        }
        workers = [
            subprocess.Popen(
                [*WORKER, "--concurrency", "1"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            for _ in range(1200):  # hang guard only: the loop ends when every job failed
                states = [(await app.get_job(j.id)).state for j in jobs]
                if all(s == JobState.FAILED for s in states):
                    break
                await asyncio.sleep(0.1)
            ran_by = {(await app.get_job(j.id)).worker_id for j in jobs}
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            logs = [w.communicate(timeout=120)[1] for w in workers]
        assert all(s == JobState.FAILED for s in states), logs
        assert len(inbox.mails) == 1, (len(inbox.mails), logs)
        assert "brush" in str(inbox.mails[0]["Subject"])
    await app.close()
    assert len(ran_by) == 2, ran_by  # both processes failed jobs of the burst


async def test_two_workers_raise_and_resolve_a_condition_once(
    store_url: str, tmp_path: Path
) -> None:
    """Jobs an hour overdue on a queue nobody serves: a lag and an unserved-queue incident,
    each checked five times a second by both workers, give one mail each; cancelling the
    jobs gives one 'resolved' each."""
    app = build(store_url)
    overdue = datetime.now(UTC) - timedelta(hours=1)
    jobs = [
        await app.enqueue("brush", Brush(n=n), queue="orphans", run_at=overdue) for n in range(3)
    ]
    with smtp_server() as (smtp_url, inbox):
        env = {
            **os.environ,
            "CONVEYOR_DATABASE_URL": store_url,
            "CONVEYOR_APP": "tests.alerts.burst_app:app",
            "CONVEYOR_SMTP_URL": smtp_url,
            "CONVEYOR_ALERT_EMAIL": "ops@example.com",
            "CONVEYOR_ALERT_CHECK_SECONDS": "0.2",
            "PYTHONPATH": str(ROOT),
        }
        workers = [
            subprocess.Popen(
                WORKER, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        try:
            # Hang guards only: each wait ends when what it waits for happened.
            for _ in range(1200):
                folded = raw_execute(store_url, "SELECT folded FROM conveyor_incidents")
                if len(folded) == 2 and min(f for (f,) in folded) >= 20 and len(inbox.mails) >= 2:
                    break
                await asyncio.sleep(0.1)
            for job in jobs:
                await app.cancel(job.id)
            for _ in range(1200):
                if not raw_execute(store_url, "SELECT rule FROM conveyor_incidents"):
                    break
                await asyncio.sleep(0.1)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            logs = [w.communicate(timeout=120)[1].decode() for w in workers]
        # The lag is read at the check that opened the incident: an hour and a few seconds.
        mails = [
            re.sub(r"waited 36\d\d s", "waited 36xx s", str(m["Subject"])) for m in inbox.mails
        ]
        assert sorted(mails) == [
            "[conveyor] queue orphans: jobs wait and no live worker takes them",
            "[conveyor] queue orphans: the oldest job has waited 36xx s",
            "[conveyor] resolved: queue orphans lag",
            "[conveyor] resolved: queue orphans without a live worker",
        ], logs
        assert not any("alert check failed" in log for log in logs), logs
    await app.close()
