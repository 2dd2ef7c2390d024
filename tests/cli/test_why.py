"""``conveyor jobs why ID``: the reason a job waits, as text and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.flow_apps import APP, Items, build

ROOT = Path(__file__).resolve().parents[2]


def why(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "conveyor.cli", "--app", APP, "jobs", "why", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_why_names_the_reason_and_until_when(store_url: str) -> None:
    app = build(store_url)
    try:
        job = await app.enqueue("flow.write_items", Items(count=1), delay=3600)
    finally:
        await app.close()

    text = why(store_url, str(job.id))
    as_json = why(store_url, str(job.id), "--json")
    missing = why(store_url, "999999")

    assert text.returncode == 0, text.stderr
    assert f"job {job.id} [scheduled] scheduled:" in text.stdout
    assert f"until {job.run_at.isoformat()}" in text.stdout
    assert json.loads(as_json.stdout)["reason"] == "scheduled"
    assert missing.returncode == 1 and "999999" in missing.stderr
