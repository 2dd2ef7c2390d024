"""``conveyor jobs retry``: one job by id, or failed jobs in bulk by task and failure time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click
import pytest

from conveyor import JobState
from conveyor.cli.retry import parse_moment
from conveyor.clock import FrozenClock
from conveyor.testing import drain
from tests.cli.conftest import SUBPROCESS_TIMEOUT, Cli
from tests.cli.watch_app import build

APP = "tests.cli.watch_app:app"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-11-22", datetime(2026, 11, 22, tzinfo=UTC)),
        ("2026-11-22T10:00:00+02:00", datetime(2026, 11, 22, 8, tzinfo=UTC)),
    ],
)
def test_since_and_until_take_a_duration_or_an_iso_time(text: str, expected: datetime) -> None:
    assert parse_moment(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "2 h", "-1h", "5y", "yesterday", "2026-13-01"])
def test_other_moments_are_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_moment(text, NOW)


async def _failed_jobs(store_url: str) -> dict[str, int]:
    """Three failed jobs: ``old`` (watch.steps, failed 3 hours ago), ``new`` (watch.steps)
    and ``other`` (watch.other), both failed just now."""
    now = datetime.now(UTC)
    clock = FrozenClock(now - timedelta(hours=3))
    app = build(store_url, clock=clock)
    try:
        failing = {"total": 2, "fail_at": 1}
        ids = {"old": (await app.enqueue("watch.steps", failing)).id}
        assert await drain(app) == 1
        clock.set(now)
        ids["new"] = (await app.enqueue("watch.steps", failing)).id
        ids["other"] = (await app.enqueue("watch.other", failing)).id
        assert await drain(app) == 2
        for job_id in ids.values():
            assert (await app.get_job(job_id)).state is JobState.FAILED
    finally:
        await app.close()
    return ids


def _states(conveyor: Cli) -> dict[int, str]:
    listed = conveyor("jobs", "list", "--json", app=APP)
    assert listed.returncode == 0, listed.stderr
    return {job["id"]: job["state"] for job in json.loads(listed.stdout)["jobs"]}


@pytest.mark.timeout(SUBPROCESS_TIMEOUT)
async def test_retry_one_job_or_failed_jobs_in_bulk_by_task_and_time(
    conveyor: Cli, store_url: str
) -> None:
    ids = await _failed_jobs(store_url)

    recent = conveyor(
        "jobs", "retry", "--failed", "--since", "1h", "--task", "watch.steps", "--json", app=APP
    )
    assert recent.returncode == 0, recent.stderr
    assert json.loads(recent.stdout) == {"retried": 1}
    assert _states(conveyor) == {
        ids["old"]: "failed",
        ids["new"]: "available",
        ids["other"]: "failed",
    }

    one = conveyor("jobs", "retry", str(ids["other"]), "--json", app=APP)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["state"] == "available"

    rest = conveyor("jobs", "retry", "--failed", app=APP)
    assert rest.returncode == 0, rest.stderr
    assert "retried 1 failed job" in rest.stdout
    assert set(_states(conveyor).values()) == {"available"}


@pytest.mark.timeout(SUBPROCESS_TIMEOUT)
def test_retry_usage_errors_exit_2(conveyor: Cli) -> None:
    for args in (
        [],
        ["7", "--failed"],
        ["7", "--task", "watch.steps"],
        ["--failed", "--since", "yesterday"],
    ):
        done = conveyor("jobs", "retry", *args, app=APP)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
