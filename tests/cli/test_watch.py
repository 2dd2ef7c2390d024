"""``conveyor jobs watch`` as a real subprocess, following jobs that a worker subprocess runs."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conveyor.cli.watch import Bar, describe
from conveyor.job import Job, JobState, Progress
from tests.cli.conftest import SUBPROCESS_TIMEOUT, Cli

pytestmark = pytest.mark.timeout(SUBPROCESS_TIMEOUT)
APP = "tests.cli.watch_app:app"
Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def spawn(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Spawn]:
    """Start ``conveyor`` subprocesses on the watch app; stop (SIGTERM) those still running."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, log: Path | None = None) -> subprocess.Popen[str]:
        with contextlib.ExitStack() as files:
            output: Any = subprocess.PIPE
            if log is not None:  # the child keeps its own descriptor; ours closes at once
                output = files.enter_context(log.open("w"))
            proc = subprocess.Popen(
                [sys.executable, "-m", "conveyor.cli", *args],
                cwd=tmp_path,
                env={**cli_env, "CONVEYOR_APP": APP, "PYTHONUNBUFFERED": "1"},
                stdout=output,
                stderr=subprocess.PIPE if log is None else subprocess.STDOUT,
                text=True,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()  # a worker drains and hands its job back
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _enqueue(conveyor: Cli, payload: dict[str, Any]) -> int:
    done = conveyor(
        "enqueue", "watch.steps", "--json", json.dumps(payload), "--json-output", app=APP
    )
    assert done.returncode == 0, done.stderr
    job_id: int = json.loads(done.stdout)["id"]
    return job_id


def _read_until(proc: subprocess.Popen[str], text: str) -> list[str]:
    """The lines ``proc`` printed up to the first one containing ``text``."""
    assert proc.stdout is not None
    lines: list[str] = []
    while text not in (lines[-1] if lines else ""):
        line = proc.stdout.readline()
        if not line:
            stderr = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"ended before printing {text!r}: {lines} {stderr}")
        lines.append(line)
    return lines


def test_watch_follows_a_job_live_until_it_completes(
    conveyor: Cli, spawn: Spawn, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job_id = _enqueue(conveyor, {"total": 4, "gate": str(gate)})
    watcher = spawn("jobs", "watch", str(job_id), "--interval", "0.1")
    spawn("worker", "--poll-interval", "0.2", "--drain-timeout", "1", log=tmp_path / "worker.log")

    # the handler holds after step 1 until the gate opens: the watcher saw it mid-way
    seen = _read_until(watcher, "1/4")
    assert "running, attempt 1/1, 1/4" in seen[-1]
    gate.touch()
    out, err = watcher.communicate(timeout=120)

    assert watcher.returncode == 0, err
    assert f"job {job_id} watch.steps: completed, attempt 1/1, 4/4" in out
    assert out.rstrip().endswith(f"job {job_id} completed after attempt 1")


def test_watch_of_a_failed_job_exits_1_in_both_modes(
    conveyor: Cli, spawn: Spawn, tmp_path: Path
) -> None:
    job_id = _enqueue(conveyor, {"total": 3, "fail_at": 2})
    spawn("worker", "--poll-interval", "0.2", "--drain-timeout", "1", log=tmp_path / "worker.log")

    as_json = conveyor("jobs", "watch", str(job_id), "--json", "--interval", "0.1", app=APP)
    assert as_json.returncode == 1, as_json.stderr
    job = json.loads(as_json.stdout)
    assert (job["id"], job["state"], job["progress"]) == (job_id, "failed", {"done": 1, "total": 3})
    assert job["errors"][-1]["message"] == "step 2 failed"

    human = conveyor("jobs", "watch", str(job_id), app=APP)
    assert human.returncode == 1, human.stderr
    assert f"job {job_id} failed after attempt 1: RuntimeError: step 2 failed" in human.stdout


def test_watch_of_a_job_cancelled_meanwhile_exits_1(conveyor: Cli, spawn: Spawn) -> None:
    job_id = _enqueue(conveyor, {"total": 2})  # no worker: it stays available
    watcher = spawn("jobs", "watch", str(job_id), "--interval", "0.1")
    assert "available" in _read_until(watcher, "available")[-1]

    assert conveyor("jobs", "cancel", str(job_id), app=APP).returncode == 0
    out, err = watcher.communicate(timeout=120)

    assert watcher.returncode == 1, err
    assert f"job {job_id} cancelled" in out


def test_watch_of_an_unknown_job_or_with_a_bad_interval_exits_2(conveyor: Cli) -> None:
    missing = conveyor("jobs", "watch", "424242", app=APP)
    assert missing.returncode == 2
    assert "424242" in missing.stderr and "Traceback" not in missing.stderr
    assert conveyor("jobs", "watch", "1", "--interval", "0", app=APP).returncode == 2


def _job(state: JobState, progress: Progress | None) -> Job:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Job(1, "t[x]", "q", state, {}, 0, 1, 3, now, now, progress=progress)


def test_the_terminal_bar_shows_progress_state_and_attempt() -> None:
    buffer = io.StringIO()
    bar = Bar(Console(file=buffer, force_terminal=True, width=120))
    with bar.progress:
        bar.show(_job(JobState.AVAILABLE, None))
        bar.show(_job(JobState.RUNNING, Progress(3, 8)))
    screen = buffer.getvalue()
    assert "3/8" in screen and "running · attempt 1/3" in screen and "t[x]" in screen


def test_a_completed_job_without_progress_fills_the_bar() -> None:
    buffer = io.StringIO()
    bar = Bar(Console(file=buffer, force_terminal=True, width=120))
    with bar.progress:
        bar.show(_job(JobState.COMPLETED, None))
    assert "1/1" in buffer.getvalue()
    assert describe(_job(JobState.RUNNING, Progress(2, None))).endswith("attempt 1/3, 2/?")
