"""The ``conveyor`` command line, run as a real subprocess against a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import RECEIPT, SUBPROCESS_TIMEOUT, Cli

pytestmark = pytest.mark.timeout(SUBPROCESS_TIMEOUT)


def test_migrate_enqueue_list_show(conveyor: Cli) -> None:
    assert conveyor("migrate").returncode == 0
    done = conveyor("enqueue", "receipts.send", "--json", json.dumps(RECEIPT), "--json-output")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["task"] == "receipts.send" and job["state"] == "available"

    listed = conveyor("jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [j["id"] for j in json.loads(listed.stdout)["jobs"]] == [job["id"]]

    shown = conveyor("jobs", "show", str(job["id"]), "--json")
    assert json.loads(shown.stdout)["payload"] == RECEIPT
    human = conveyor("jobs", "list")
    assert "receipts.send" in human.stdout


def test_bad_payload_and_unknown_task_exit_2_with_a_clear_message(conveyor: Cli) -> None:
    bad = conveyor("enqueue", "receipts.send", "--json", '{"customer_email": "nope"}')
    assert bad.returncode == 2
    assert "customer_email" in bad.stderr and "Traceback" not in bad.stderr
    unknown = conveyor("enqueue", "no.such.task")
    assert unknown.returncode == 2
    assert "receipts.send" in unknown.stderr  # the known tasks are listed
    not_json = conveyor("enqueue", "receipts.send", "--json", "{oops")
    assert not_json.returncode == 2 and "JSON" in not_json.stderr


def test_cancel_of_a_finished_job_exits_1_and_missing_job_is_reported(conveyor: Cli) -> None:
    created = conveyor("enqueue", "receipts.send", "--json", json.dumps(RECEIPT), "--json-output")
    job_id = json.loads(created.stdout)["id"]
    assert conveyor("jobs", "cancel", str(job_id)).returncode == 0
    again = conveyor("jobs", "cancel", str(job_id))
    assert again.returncode == 1 and "cancelled" in again.stderr
    missing = conveyor("jobs", "show", "999999")
    assert missing.returncode == 1 and "999999" in missing.stderr


def test_unreachable_database_fails_fast_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "CONVEYOR_DATABASE_URL": "postgresql://u:secret@127.0.0.1:1/x"}
    done = subprocess.run(
        [sys.executable, "-m", "conveyor.cli", "jobs", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "127.0.0.1" in done.stderr and "secret" not in done.stderr
    assert "Traceback" not in done.stderr


def _startup_line(cli_env: dict[str, str], tmp_path: Path, *args: str) -> str:
    """What ``conveyor worker *args`` says when it starts (whitespace folded), then stop it."""
    with subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "worker", "--no-scheduler", *args],
        cwd=tmp_path,
        env={**cli_env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            said = ""
            for line in proc.stdout:  # the line may wrap; it ends with "scheduler)"
                said += " " + line.strip()
                if "scheduler)" in said:
                    return " ".join(said.split())
            raise AssertionError(f"the worker stopped before saying it started: {said!r}")
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def test_worker_prefetch_option_reaches_the_worker_and_refuses_negatives(
    conveyor: Cli, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert conveyor("migrate").returncode == 0
    assert "(concurrency 3, prefetch up to 3, no scheduler)" in _startup_line(
        cli_env, tmp_path, "--concurrency", "3"
    )
    assert "(concurrency 3, no prefetch, no scheduler)" in _startup_line(
        cli_env, tmp_path, "--concurrency", "3", "--max-prefetch", "0"
    )
    assert "prefetch up to 7," in _startup_line(cli_env, tmp_path, "--max-prefetch", "7")
    refused = conveyor("worker", "--max-prefetch", "-1")
    assert refused.returncode == 2 and "--max-prefetch" in refused.stderr
