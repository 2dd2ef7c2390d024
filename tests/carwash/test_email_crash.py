"""A worker SIGKILLed in the middle of a campaign: after the rescue every opted-in customer
has exactly one mail, except at most the one message per sending chunk that was in flight
at the kill, which is marked failed (it may have arrived) and never sent again."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from carwash.campaigns import INTERRUPTED
from carwash.demodata import add_customers, add_tenant
from carwash.mailsink import MailSink
from carwash.models import Campaign, Customer, Delivery
from conveyor import Conveyor, JobState
from tests.carwash.conftest import NOW, eventually
from tests.carwash.processes import kill, start_worker, stop

CUSTOMERS = 1_000
# Paced, so that the kill lands while chunks send: 2 chunks at once (the default), each
# at half of this rate.
RATE_PER_SECOND = 150.0


def deliveries(engine: Engine, campaign_id: int) -> dict[str, tuple[str, str | None]]:
    """Each recipient's (state, reason)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Delivery.email, Delivery.state, Delivery.reason).where(
                Delivery.campaign_id == campaign_id
            )
        ).all()
    return {email: (state, reason) for email, state, reason in rows}


def campaign_state(engine: Engine) -> tuple[int, str] | None:
    with engine.connect() as conn:
        row = conn.execute(select(Campaign.id, Campaign.state)).first()
    return None if row is None else (row.id, row.state)


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_worker_killed_mid_chunk_leaves_at_most_the_message_in_flight_unknown(
    carwash_url: str,
    make_app: Callable[..., Conveyor],
    engine: Engine,
    reader: Engine,
    sink: MailSink,
    tmp_path: Path,
) -> None:
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Suds", "America/Chicago", RATE_PER_SECOND)
        add_customers(conn, tenant, CUSTOMERS, rng=random.Random(7), now=NOW, opt_in_ratio=0.75)
        opted_in = set(
            conn.execute(
                select(Customer.email).where(Customer.marketing_opt_in.is_(True))
            ).scalars()
        )
    app = make_app()
    await app.enqueue(
        "email.send_campaign",
        {"tenant_id": tenant, "subject": "Hi {{ customer.name }}", "body": "Spring offer."},
    )

    doomed = start_worker(carwash_url, data_dir=tmp_path, smtp_url=sink.url)
    try:
        await eventually(lambda: sink.received >= 150, timeout=120)
        kill(doomed)
    finally:
        stop(doomed)
    received_at_kill = sink.received
    found = campaign_state(engine)
    assert found is not None
    campaign_id = found[0]
    running = await app.list_jobs(task="email.send_chunk", state=JobState.RUNNING, limit=100)
    at_kill = deliveries(engine, campaign_id)
    in_flight = {email for email, (state, _) in at_kill.items() if state == "sending"}
    # The kill landed mid-campaign, with chunks sending, and left one recipient at most
    # per sending chunk unsettled (a window of claims would leave many).
    assert received_at_kill < len(opted_in)
    assert 1 <= len(running.jobs) <= 2
    assert 1 <= len(in_flight) <= len(running.jobs)

    survivor = start_worker(carwash_url, data_dir=tmp_path, smtp_url=sink.url)
    try:
        await eventually(lambda: campaign_state(reader) == (campaign_id, "finished"), timeout=150)
    finally:
        stop(survivor)

    per_recipient = Counter(
        recipient
        for mail in sink.messages()
        if mail.headers.get("X-Carwash-Campaign") == str(campaign_id)
        for recipient in mail.recipients
    )
    assert set(per_recipient.values()) == {1}  # nobody twice
    assert set(per_recipient) <= opted_in
    final = deliveries(engine, campaign_id)
    unknown = {email for email, (state, _) in final.items() if state == "failed"}
    # The messages in flight at the kill, and only those, are failed "may have arrived";
    # every other opted-in customer got the campaign exactly once.
    assert unknown == in_flight
    assert {final[email] for email in unknown} == {("failed", INTERRUPTED)}
    assert opted_in - set(per_recipient) <= in_flight
    assert {email for email, (state, _) in final.items() if state == "sent"} == (
        opted_in - in_flight
    )
    assert set(per_recipient) >= opted_in - in_flight
    with engine.connect() as conn:
        table = Campaign.__table__
        campaign = conn.execute(select(table).where(table.c.id == campaign_id)).one()
    assert (campaign.sent, campaign.failed, campaign.bounced) == (
        len(opted_in) - len(in_flight),
        len(in_flight),
        0,
    )
    rescued = await app.get_job(running.jobs[0].id)
    assert rescued.state is JobState.COMPLETED and rescued.attempt >= 2
