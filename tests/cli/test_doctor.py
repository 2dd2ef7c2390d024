"""``conveyor doctor``: a table of checks, exit 0 when all pass and 1 naming what failed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from conveyor import Conveyor
from conveyor.clock import FrozenClock
from conveyor.doctor import Limits, diagnose
from tests.cli.conftest import Cli


class Car(BaseModel):
    plate: str = "AB-1"


async def wash(payload: Car) -> None:
    return None


def failed(checks: list) -> list[str]:  # type: ignore[type-arg]
    return [c.name for c in checks if not c.ok]


def test_a_healthy_deployment_passes(conveyor: Cli, store_url: str) -> None:
    assert conveyor("migrate").returncode == 0

    done = conveyor("doctor")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
    for name in ("database", "schema", "workers", "leases"):
        assert name in done.stdout
    if store_url.startswith("postgresql"):
        assert "clock skew" in done.stdout and "notify" in done.stdout
    else:
        assert "disk" in done.stdout and "MB free" in done.stdout


def test_an_unreachable_database_fails_with_the_password_masked(conveyor: Cli) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/x"

    done = conveyor("--database-url", url, "doctor")

    assert done.returncode == 1
    assert "failed: database" in done.stdout
    assert "hunter2" not in done.stdout and "***" in done.stdout


def test_a_schema_behind_fails_and_names_the_fix(conveyor: Cli, tmp_path: Path) -> None:
    done = conveyor("--database-url", f"sqlite:///{tmp_path / 'new.db'}", "doctor")

    assert done.returncode == 1
    assert "failed: schema" in done.stdout
    assert "conveyor migrate" in done.stdout


async def test_waiting_jobs_without_a_live_worker_fail(store_url: str) -> None:
    app = Conveyor(store_url)
    app.task(name="wash", queue="washes")(wash)
    try:
        await app.enqueue("wash", {})
        checks = await diagnose(app)
        assert failed(checks) == ["workers"]
        [workers] = [c for c in checks if c.name == "workers"]
        assert "washes" in workers.detail

        store = await app.store()
        await store.register_worker(
            worker_id="bay:1",
            host="bay",
            pid=1,
            queues=["washes"],
            concurrency=1,
            now=app.clock.now(),
        )
        assert failed(await diagnose(app)) == []
    finally:
        await app.close()


async def test_running_jobs_with_expired_leases_fail(store_url: str) -> None:
    clock = FrozenClock(datetime.now(UTC))
    app = Conveyor(store_url, clock=clock)
    app.task(name="wash")(wash)
    try:
        job = await app.enqueue("wash", {})
        store = await app.store()
        await store.claim_jobs(
            queues=None,
            limit=1,
            lease_ttl=timedelta(seconds=1),
            worker_id="gone",
            now=clock.now(),
        )
        await store.register_worker(
            worker_id="gone", host="h", pid=1, queues=None, concurrency=1, now=clock.now()
        )
        assert "leases" not in failed(await diagnose(app, Limits(max_skew=timedelta(days=1))))

        clock.advance(timedelta(seconds=app.settings.lease_ttl_seconds + 2))
        checks = await diagnose(app, Limits(max_skew=timedelta(days=1)))

        assert "leases" in failed(checks)
        [leases] = [c for c in checks if c.name == "leases"]
        assert str(job.id) in leases.detail
    finally:
        await app.close()


async def test_clock_skew_with_the_database_fails(pg_url: str) -> None:
    app = Conveyor(pg_url, clock=FrozenClock(datetime.now(UTC) + timedelta(minutes=5)))
    try:
        await app.migrate()
        checks = await diagnose(app)
        assert failed(checks) == ["clock skew"]
    finally:
        await app.close()


async def test_low_disk_space_fails_for_sqlite(sqlite_url: str) -> None:
    app = Conveyor(sqlite_url)
    try:
        await app.migrate()
        checks = await diagnose(app, Limits(min_free_mb=10**12))
        assert failed(checks) == ["disk"]
    finally:
        await app.close()


@pytest.mark.parametrize("option", ["--max-skew", "--min-free-mb"])
def test_limits_are_options(conveyor: Cli, option: str) -> None:
    assert option in conveyor("doctor", "--help").stdout
