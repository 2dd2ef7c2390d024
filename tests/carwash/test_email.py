"""Bulk email through a real SMTP server (aiosmtpd): every opted-in customer exactly once,
through transient failures, with a bounce for an address the server refuses."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, Row, select

from carwash.demodata import add_customers, add_tenant
from carwash.mail import SmtpTarget, open_session
from carwash.mailsink import MailSink, ReceivedMail
from carwash.models import Campaign, Customer, Delivery
from conveyor import Conveyor, JobState, PayloadInvalid
from conveyor.api import create_api
from tests.carwash.conftest import NOW, RunningWorker, eventually

CAMPAIGN = {
    "subject": "Hello {{ customer.name }}",
    "body": "Dear {{ customer.name }}, {{ tenant.name }} has a spring offer for you.",
}


def seed(engine: Engine, customers: int, rng: random.Random) -> tuple[int, list[str]]:
    """A tenant with ``customers`` customers; returns it and the opted-in addresses."""
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Suds", "America/Chicago")
        add_customers(conn, tenant, customers, rng=rng, now=NOW, opt_in_ratio=0.75)
        opted_in = conn.execute(
            select(Customer.email).where(Customer.tenant_id == tenant, Customer.marketing_opt_in)
        ).scalars()
        return tenant, list(opted_in)


def campaign_row(engine: Engine, campaign_id: int) -> Row[Any]:
    with engine.connect() as conn:
        table = Campaign.__table__
        return conn.execute(select(table).where(table.c.id == campaign_id)).one()


async def run_campaign(
    app: Conveyor,
    reader: Engine,
    tenant: int,
    start_worker: Callable[..., RunningWorker],
) -> Row[Any]:
    job = await app.enqueue("email.send_campaign", {"tenant_id": tenant, **CAMPAIGN})
    worker = start_worker(app, concurrency=8)

    async def fanned_out() -> bool:
        return (await app.get_job(job.id)).state is JobState.COMPLETED

    await eventually(fanned_out)
    result = (await app.get_job(job.id)).result
    assert isinstance(result, dict)
    campaign_id = result["campaign_id"]
    await eventually(lambda: campaign_row(reader, campaign_id).state == "finished", timeout=540)
    await worker.stop()
    return campaign_row(reader, campaign_id)


def mails_per_recipient(mails: list[ReceivedMail], campaign_id: int) -> Counter[str]:
    return Counter(
        recipient
        for mail in mails
        if mail.headers.get("X-Carwash-Campaign") == str(campaign_id)
        for recipient in mail.recipients
    )


@pytest.mark.timeout(600)
async def test_each_opted_in_customer_gets_the_campaign_exactly_once_through_failures(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    reader: Engine,
    sink: MailSink,
    rng: random.Random,
    start_worker: Callable[..., RunningWorker],
) -> None:
    tenant, opted_in = seed(engine, 2_000, rng)
    transient_failures = 40
    sink.fail_transiently(transient_failures)  # 451 for the next 40 recipients, then fine
    app = make_app(campaign_chunk_size=100)

    campaign = await run_campaign(app, reader, tenant, start_worker)

    mails = sink.messages()
    received = mails_per_recipient(mails, campaign.id)
    assert sorted(received) == sorted(opted_in)
    assert set(received.values()) == {1}
    assert sink.transient_refusals == transient_failures
    assert (campaign.sent, campaign.skipped, campaign.bounced, campaign.failed) == (
        len(opted_in),
        2_000 - len(opted_in),
        0,
        0,
    )
    body = next(m for m in mails if m.recipients[0] == opted_in[0]).body
    assert "Suds has a spring offer" in body
    retried = await app.list_jobs(task="email.send_chunk", limit=100)
    assert any(job.attempt > 1 and job.errors for job in retried.jobs)


@pytest.mark.timeout(300)
async def test_a_refused_address_bounces_and_the_rest_are_delivered(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    reader: Engine,
    sink: MailSink,
    rng: random.Random,
    start_worker: Callable[..., RunningWorker],
) -> None:
    tenant, opted_in = seed(engine, 300, rng)
    refused = opted_in[17]
    sink.reject(refused)
    app = make_app(campaign_chunk_size=50)

    campaign = await run_campaign(app, reader, tenant, start_worker)

    received = mails_per_recipient(sink.messages(), campaign.id)
    assert sorted(received) == sorted(set(opted_in) - {refused})
    assert set(received.values()) == {1}
    assert (campaign.sent, campaign.bounced, campaign.failed) == (len(opted_in) - 1, 1, 0)
    with engine.connect() as conn:
        bounced = conn.execute(
            select(Delivery.email, Delivery.reason).where(Delivery.state == "bounced")
        ).one()
    assert bounced.email == refused
    assert bounced.reason is not None and bounced.reason.startswith("550")
    # The bounce did not fail its chunk: every chunk completed on its first attempt.
    chunks = await app.list_jobs(task="email.send_chunk", limit=100)
    assert {(job.state, job.attempt) for job in chunks.jobs} == {(JobState.COMPLETED, 1)}


async def test_a_template_that_does_not_render_is_refused_at_enqueue(
    make_app: Callable[..., Conveyor],
) -> None:
    app = make_app()
    with pytest.raises(PayloadInvalid) as refused:
        await app.enqueue(
            "email.send_campaign",
            {"tenant_id": 1, "subject": "Hi", "body": "{{ customer.nickname }} {% if %}"},
        )
    assert refused.value.errors[0]["loc"] == ["body"]


async def test_the_mail_endpoint_lists_what_the_sink_kept(
    make_app: Callable[..., Conveyor], tmp_path: Path
) -> None:
    app = make_app()
    kept = MailSink(directory=tmp_path / "data" / "mail")
    async with kept.running():
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@x.example", "b@y.example", "Hi"
        message.set_content("Clean car.")
        async with open_session(SmtpTarget.from_url(kept.url)) as session:
            await session.send(message, sender="a@x.example", recipient="b@y.example")
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        listed = (await client.get("/api/mail?limit=5")).json()
    assert [(m["to"], m["subject"], m["body"].strip()) for m in listed] == [
        (["b@y.example"], "Hi", "Clean car.")
    ]
