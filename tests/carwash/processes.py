"""Worker subprocesses running the car-wash app, for the SIGKILL tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conveyor import Conveyor, JobState
from tests.carwash.conftest import eventually
from tests.e2e.processes import stop

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    url: str,
    *,
    data_dir: Path,
    pause: float = 0.0,
    marker: Path | None = None,
    smtp_url: str | None = None,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **({"CONVEYOR_SMTP_URL": smtp_url} if smtp_url else {}),
        "CONVEYOR_DATABASE_URL": url,
        "CONVEYOR_DATA_DIR": str(data_dir),
        "CONVEYOR_LEASE_TTL_SECONDS": "1",
        "CARWASH_TEST_PAUSE": str(pause),
        "CARWASH_TEST_MARKER": str(marker or ""),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "--app", "tests.carwash.worker_app:app", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def marker_at_least(marker: Path, value: int) -> bool:
    try:
        return int(marker.read_text() or "-1") >= value
    except (FileNotFoundError, ValueError):
        return False


async def rescue_until_completed(app: Conveyor, job_id: int, url: str, data_dir: Path) -> None:
    """Start a fresh worker on ``url`` and stop it once the job is completed (90 s at most)."""
    survivor = start_worker(url, data_dir=data_dir)
    try:

        async def completed() -> bool:
            return (await app.get_job(job_id)).state is JobState.COMPLETED

        await eventually(completed, timeout=90)
    finally:
        stop(survivor)


__all__ = ["kill", "marker_at_least", "rescue_until_completed", "start_worker", "stop"]
