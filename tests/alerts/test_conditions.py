"""The condition rules (failure rate, queue lag, unserved queue) through a real SMTP server."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor, JobContext
from conveyor.alerts import Alerts
from conveyor.alerts.incidents import StoreIncidents
from conveyor.clock import FrozenClock
from conveyor.testing import drain
from conveyor.worker.worker import Worker, WorkerOptions
from tests.alerts.servers import smtp_server

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Wash(BaseModel):
    n: int
    fail: bool = False


async def wash(payload: Wash, ctx: JobContext) -> int:
    if payload.fail:
        raise RuntimeError(f"brush {payload.n} jammed")
    return payload.n


@asynccontextmanager
async def watched(store_url: str) -> AsyncIterator[tuple[Conveyor, FrozenClock, Alerts, Any]]:
    """An app on a frozen clock, its alerts claiming incidents in the store, and an inbox."""
    clock = FrozenClock(T0)
    with smtp_server() as (smtp_url, inbox):
        app = Conveyor(
            store_url,
            clock=clock,
            public_url="https://conveyor.example",
            smtp_url=smtp_url,
            alert_email="ops@example.com",
        )
        app.task(name="wash", queue="emails", max_attempts=3)(wash)
        alerts = Alerts(app.settings, incidents=StoreIncidents(await app.store()), now=clock.now)
        alerts.install(app)
        try:
            yield app, clock, alerts, inbox
        finally:
            await alerts.close()
            await app.close()


async def check(alerts: Alerts) -> None:
    """One tick of the alert loop, with its mails delivered."""
    await alerts.tick()
    await alerts.deliverer.drain()


def subjects(inbox: Any) -> list[str]:
    return [str(mail["Subject"]) for mail in inbox.mails]


def body(mail: Message) -> str:
    """The text as written (the mail may carry it quoted-printable)."""
    raw = mail.get_payload(decode=True)
    assert isinstance(raw, bytes)
    return raw.decode().replace("\r\n", "\n")


async def beat(app: Conveyor, worker_id: str, queues: list[str] | None) -> None:
    """A live worker in the registry (its heartbeat at the app's now)."""
    store = await app.store()
    now = app.clock.now()
    await store.register_worker(
        worker_id=worker_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        queues=queues,
        concurrency=1,
        now=now,
    )


async def test_a_lagging_queue_alerts_once_digests_then_resolves(store_url: str) -> None:
    async with watched(store_url) as (app, clock, alerts, inbox):
        await app.enqueue("wash", Wash(n=1))
        await beat(app, "w1", None)
        await check(alerts)
        assert subjects(inbox) == []  # due just now: no lag

        clock.advance(timedelta(seconds=app.settings.alert_lag_seconds + 1))
        await beat(app, "w1", None)
        for _ in range(3):  # the condition holds at each check: one mail
            await check(alerts)
        assert subjects(inbox) == ["[conveyor] queue emails: the oldest job has waited 301 s"]
        text = body(inbox.mails[0])
        assert "threshold 300 s" in text and "1 available, 1 live worker(s)" in text
        assert "https://conveyor.example/jobs?queue=emails&state=available" in text

        clock.advance(timedelta(seconds=app.settings.alert_digest_seconds))
        await beat(app, "w1", None)
        await check(alerts)
        assert (
            subjects(inbox)[1] == "[conveyor] still: queue emails: the oldest job has waited 901 s"
        )

        assert await drain(app) == 1
        await check(alerts)
        assert subjects(inbox)[2:] == ["[conveyor] resolved: queue emails lag"]
        await check(alerts)
        assert len(inbox.mails) == 3


async def test_waiting_jobs_without_a_live_worker_alert_until_one_comes(store_url: str) -> None:
    async with watched(store_url) as (app, clock, alerts, inbox):
        await app.enqueue("wash", Wash(n=1))
        await beat(app, "other-worker", ["other"])
        clock.advance(timedelta(seconds=app.settings.lease_ttl_seconds - 1))
        await check(alerts)
        assert subjects(inbox) == []  # a worker may be starting: a lease period of grace

        clock.advance(timedelta(seconds=1))
        await beat(app, "other-worker", ["other"])
        await check(alerts)
        await check(alerts)
        assert subjects(inbox) == [
            "[conveyor] queue emails: jobs wait and no live worker takes them"
        ]
        text = body(inbox.mails[0])
        assert "1 job(s) available" in text and "conveyor worker --queues emails" in text

        await beat(app, "email-worker", ["emails"])
        await check(alerts)
        assert subjects(inbox)[1:] == ["[conveyor] resolved: queue emails without a live worker"]


async def run_worker(app: Conveyor, jobs: int) -> None:
    """A real worker runs ``jobs`` jobs, then stops (writing its tally to the registry)."""
    await Worker(app, WorkerOptions(max_jobs=jobs, poll_interval=timedelta(seconds=0.05))).run()


async def test_a_task_failing_over_the_rate_alerts_then_resolves(store_url: str) -> None:
    async with watched(store_url) as (app, clock, alerts, inbox):
        await check(alerts)  # the first check is the base of the window
        await app.enqueue_many("wash", [Wash(n=n, fail=n < 6) for n in range(10)])
        await run_worker(app, 10)  # six attempts fail (each with a retry to come), four pass
        clock.advance(timedelta(seconds=10))
        await check(alerts)
        await check(alerts)
        assert subjects(inbox) == ["[conveyor] task wash: 60% of runs failed"]
        text = body(inbox.mails[0])
        assert "failed 6 of its last 10 runs (60%) within 300 s; the threshold is 50%" in text
        assert "https://conveyor.example/jobs?task=wash" in text

        # A window later, without a failing run, the rate is no longer over the threshold.
        clock.advance(timedelta(seconds=app.settings.alert_failure_window_seconds))
        await check(alerts)
        about_wash = [s for s in subjects(inbox) if "task wash" in s]
        assert about_wash[1:] == ["[conveyor] resolved: task wash failure rate"]
        # (the six retries now due, with no worker left, are incidents of their own)
        assert "[conveyor] queue emails: jobs wait and no live worker takes them" in subjects(inbox)


async def test_too_few_runs_are_not_judged(store_url: str) -> None:
    async with watched(store_url) as (app, clock, alerts, inbox):
        await check(alerts)
        await app.enqueue_many("wash", [Wash(n=n, fail=True) for n in range(5)])
        await run_worker(app, 5)
        clock.advance(timedelta(seconds=10))
        await check(alerts)
        assert subjects(inbox) == []  # 5 of 5 failed, under alert_failure_min_runs (10)
