"""The four car-wash workloads under ``conveyor.testing.crashtest``: their worker is
SIGKILLed at kill points (between statements, mid-transaction, after a commit, before the
ack), rescued, and each workload's own invariant still holds."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from carwash.campaigns import INTERRUPTED
from carwash.demodata import add_customers, add_tenant, add_transactions, transaction_rows
from carwash.files import FileStore
from carwash.mailsink import MailSink
from carwash.models import Campaign, CreditEntry, CreditGrant, Customer, Employee, SyncCursor
from carwash.models import Transaction as SaleRow
from conveyor import Conveyor, Job, JobState
from conveyor.testing import CrashReport, crashtest
from tests.carwash.conftest import NOW
from tests.carwash.test_email_crash import deliveries
from tests.carwash.test_finance import ZONE, from_scratch, summaries
from tests.chaos.support import scale

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
WORKER_APP = "tests.carwash.worker_app:app"
RUNS = scale(2, 12)


def crash_options(tmp_path: Path, **env: str) -> dict[str, Any]:
    return {
        "worker_app": WORKER_APP,
        "runs": RUNS,
        "seed": 21,
        "trace": ["carwash"],
        "env": {"CONVEYOR_DATA_DIR": str(tmp_path / "data"), **env},
    }


def show(report: CrashReport, record_property: Callable[[str, Any], None]) -> None:
    record_property("chaos", {"crashtest": report.summary()})
    assert report.kills >= RUNS and not report.failures


async def test_credits_grant_credits_each_customer_once_whatever_the_kill_point(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Suds", "America/Chicago")
        customers = add_customers(conn, tenant, 1_200, rng=random.Random(5), now=NOW)

    def credited_once(job: Job) -> None:
        assert job.state is JobState.COMPLETED, job.errors
        with engine.connect() as conn:
            grants = conn.execute(
                select(CreditGrant.id).where(CreditGrant.job_id == job.id)
            ).scalars()
            (grant,) = list(grants)
            credited = Counter(
                conn.execute(
                    select(CreditEntry.customer_id).where(CreditEntry.grant_id == grant)
                ).scalars()
            )
        assert set(credited.values()) == {1}, "a customer credited twice"
        assert sorted(credited) == sorted(customers)

    report = await crashtest(
        make_app(),
        "credits.grant",
        {"tenant_id": tenant, "amount": 3, "reason": "spring", "customer_ids": customers},
        check=credited_once,
        **crash_options(tmp_path),
    )
    show(report, record_property)


async def test_finance_sync_resumes_from_its_checkpoint_with_totals_right(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Harbour", ZONE)

    def new_sales(run: int) -> dict[str, int]:
        """Fresh transactions for each run to fold in (three chunks of the worker's)."""
        rows = transaction_rows(tenant, days=3, per_day=400, rng=random.Random(run), until=NOW)
        with engine.begin() as conn:
            add_transactions(conn, rows)
        return {"tenant_id": tenant}

    def totals_right(job: Job) -> None:
        assert job.state is JobState.COMPLETED, job.errors
        assert summaries(engine, tenant) == from_scratch(engine, tenant)
        with engine.connect() as conn:
            cursor = conn.execute(
                select(SyncCursor.last_transaction_id).where(SyncCursor.tenant_id == tenant)
            ).scalar_one()
            top = conn.execute(
                select(func.max(SaleRow.id)).where(SaleRow.tenant_id == tenant)
            ).scalar_one()
        assert cursor == top
        assert job.result["transactions"] == 1_200  # this run's rows, each counted once

    app = make_app()
    report = await crashtest(
        app, "finance.sync", new_sales, check=totals_right, **crash_options(tmp_path)
    )
    show(report, record_property)
    resumed = [(await app.get_job(run.job_id)).result["resumed_from"] for run in report.runs]
    assert any(cursor is not None for cursor in resumed)  # a kill made one resume


def employee_file(tenant: int, rows: int) -> bytes:
    lines = ["employee_number,first_name,last_name,email,role,hourly_wage,hired_on"]
    for n in range(rows):
        lines.append(f"E-{n:05d},Ana{n},Silva,ana.{n}.{tenant}@sparkle.example,washer,16.50,")
    lines += ["E-bad-1,Bo,Berg,not-an-email,washer,,", "E-bad-2,Chen,Wong,c@x.example,pilot,,"]
    return ("\n".join(lines) + "\n").encode()


async def test_employee_import_upserts_each_row_once_across_kills(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    app = make_app()
    # The app's own file store: uploads live under its data dir, where the workers look.
    store = FileStore(app.settings.data_dir / "uploads", retention=timedelta(days=7))
    rows = 450

    async def new_file(run: int) -> dict[str, Any]:
        with engine.begin() as conn:
            tenant = add_tenant(conn, f"Sparkle {run}", "America/Chicago")
        data = employee_file(tenant, rows)

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        stored = await store.save(
            chunks(), name="staff.csv", kind="employees", tenant_id=tenant, max_bytes=1 << 20
        )
        return {"tenant_id": tenant, "file_id": stored.id}

    def upserted_once(job: Job) -> None:
        assert job.state is JobState.COMPLETED, job.errors
        result = job.result
        assert (result["inserted"], result["updated"], result["rejected"]) == (rows, 0, 2)
        with engine.connect() as conn:
            numbers = Counter(
                conn.execute(
                    select(Employee.employee_number).where(
                        Employee.tenant_id == job.payload["tenant_id"]
                    )
                ).scalars()
            )
        assert set(numbers.values()) == {1} and len(numbers) == rows

    report = await crashtest(
        app, "employees.import", new_file, check=upserted_once, **crash_options(tmp_path)
    )
    show(report, record_property)


async def test_campaign_mails_each_recipient_at_most_once_whatever_the_kill_point(
    make_app: Callable[..., Conveyor],
    engine: Engine,
    sink: MailSink,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    with engine.begin() as conn:
        tenant = add_tenant(conn, "Suds", "America/Chicago")
        add_customers(conn, tenant, 120, rng=random.Random(7), now=NOW, opt_in_ratio=0.75)
        opted_in = set(
            conn.execute(
                select(Customer.email).where(
                    Customer.tenant_id == tenant, Customer.marketing_opt_in.is_(True)
                )
            ).scalars()
        )
    unknown_total = 0

    def at_most_once(job: Job) -> None:
        nonlocal unknown_total
        assert job.state is JobState.COMPLETED, job.errors
        campaign_id = job.result["campaign_id"]
        mailed = Counter(
            recipient
            for mail in sink.messages()
            if mail.headers.get("X-Carwash-Campaign") == str(campaign_id)
            for recipient in mail.recipients
        )
        assert set(mailed.values()) <= {1}, "a recipient mailed twice"
        final = deliveries(engine, campaign_id)
        sent = {email for email, (state, _) in final.items() if state == "sent"}
        unknown = {email for email, (state, _) in final.items() if state == "failed"}
        # Only the message in flight at a kill may be unknown: one per chunk sending.
        assert {final[email] for email in unknown} <= {("failed", INTERRUPTED)}
        assert len(unknown) <= 2
        assert sent | unknown == opted_in and sent <= set(mailed)
        assert set(mailed) <= sent | unknown
        with engine.connect() as conn:
            state = conn.execute(
                select(Campaign.state).where(Campaign.id == campaign_id)
            ).scalar_one()
        assert state == "finished"
        unknown_total += len(unknown)

    report = await crashtest(
        make_app(),
        "email.send_campaign",
        {"tenant_id": tenant, "subject": "Hi {{ customer.name }}", "body": "Spring offer."},
        check=at_most_once,
        **crash_options(tmp_path, CONVEYOR_SMTP_URL=sink.url),
    )
    record_property("chaos", {"crashtest": report.summary(), "unknown": unknown_total})
    assert report.kills >= RUNS and not report.failures
