"""Two ``conveyor worker`` processes on one database raise the same incident: one mail."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from conveyor import JobState
from tests.alerts.burst_app import Brush, build
from tests.alerts.servers import smtp_server
from tests.cli.conftest import ROOT

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
