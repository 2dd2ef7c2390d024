"""Built-in alerts through a real SMTP server and a real webhook receiver."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor
from conveyor.alerts import Alerts
from conveyor.testing import drain
from tests.alerts.servers import free_port, smtp_server, webhook_server


class Wash(BaseModel):
    n: int
    fail: bool = True


async def wash(payload: Wash) -> int:
    if payload.fail:
        raise RuntimeError(f"brush {payload.n} jammed")
    return payload.n


def build(store_url: str, **settings: Any) -> Conveyor:
    app = Conveyor(store_url, public_url="https://conveyor.example", **settings)
    app.task(name="wash", max_attempts=1)(wash)
    app.task(name="rinse", max_attempts=1)(wash)
    return app


async def test_a_burst_of_failures_gives_one_mail_then_a_digest_then_resolved(
    store_url: str,
) -> None:
    now = [datetime(2026, 12, 5, 12, 0).astimezone()]
    with smtp_server() as (smtp_url, inbox), webhook_server() as (hook_url, posts):
        app = build(
            store_url,
            smtp_url=smtp_url,
            alert_email="ops@example.com, oncall@example.com",
            alert_webhook_url=hook_url,
        )
        alerts = Alerts(app.settings, now=lambda: now[0]).install(app)
        jobs = [await app.enqueue("wash", Wash(n=n)) for n in range(10)]
        assert await drain(app) == 10
        await alerts.deliverer.drain()
        assert len(inbox.mails) == 1  # ten failures, one alert
        first = inbox.mails[0]
        assert first["To"] == "ops@example.com, oncall@example.com"
        body = first.get_payload()
        assert isinstance(body, str)
        assert f"Job {jobs[0].id} of task wash" in body
        assert "RuntimeError: brush 0 jammed" in body
        assert f"https://conveyor.example/jobs/{jobs[0].id}" in body
        assert len(posts) == 1 and f"/jobs/{jobs[0].id}" in posts[0]["text"]

        now[0] += timedelta(seconds=app.settings.alert_digest_seconds)
        await alerts.tick()
        await alerts.deliverer.drain()
        assert len(inbox.mails) == 2  # the nine others, folded into one digest
        digest = inbox.mails[1].get_payload()
        assert isinstance(digest, str)
        assert "9 more occurrence(s)" in digest and "brush 9 jammed" in digest
        await alerts.tick()
        await alerts.deliverer.drain()
        assert len(inbox.mails) == 2  # nothing new to digest

        ok = await app.enqueue("wash", Wash(n=99, fail=False))
        await drain(app)
        await alerts.deliverer.drain()
        assert len(inbox.mails) == 3
        assert inbox.mails[2]["Subject"] == "[conveyor] resolved: task wash"
        assert f"/jobs/{ok.id}" in str(inbox.mails[2].get_payload())
        assert len(posts) == 3
        await alerts.close()
        await app.close()


async def test_an_unreachable_mail_server_never_delays_jobs(store_url: str) -> None:
    app = build(store_url, smtp_url=f"smtp://127.0.0.1:{free_port()}", alert_email="ops@x.org")
    failed: list[str] = []
    alerts = Alerts(app.settings, on_delivery_failure=failed.append).install(app)
    alerts.deliverer.backoff = 0.01
    await app.enqueue("wash", Wash(n=0))
    for n in range(1, 50):
        await app.enqueue("rinse", Wash(n=n, fail=False))
    assert await drain(app) == 50  # every job ran while the first alert could not be sent
    await alerts.deliverer.drain()
    assert alerts.deliverer.failures == alerts.deliverer.attempts
    assert failed == ["email"] * alerts.deliverer.attempts  # each attempt, by its channel
    await alerts.close()
    await app.close()
