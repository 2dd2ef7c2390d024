"""Bulk email: a campaign fans out into chunk jobs that mail each opted-in customer once.

``email.send_campaign`` creates the campaign, one delivery row per customer of the tenant
(opted-out customers ``skipped`` at once) and the chunk jobs of at most
``campaign_chunk_size`` recipients: the campaign and its deliveries commit with the job's
checkpoint, and the chunks go out as one batch (``ctx.enqueue_batch``, keyed by the job,
so a retry never makes a second). ``email.send_chunk`` mails its recipients over one SMTP
connection; ``email.finish_campaign``, the batch's callback, records the totals once every
chunk job is final. Each outcome is also marked in the engine's item ledger.

Never twice: a delivery moves ``pending`` → ``sending`` in its own commit *before* the
SMTP conversation, and only a ``pending`` one is ever sent. A retried or rescued chunk
therefore skips what was sent; one found ``sending`` (its worker died mid-conversation) is
marked ``failed`` instead of being sent again, because it may have arrived.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Connection, case, func, insert, literal, select, update

from carwash.config import CarwashConfig
from carwash.db import Database, run
from carwash.mail import (
    DEFAULT_SMTP_URL,
    Bounced,
    MailSession,
    SendFailure,
    SmtpTarget,
    Unknown,
)
from carwash.mail import open_session as open_smtp
from carwash.models import Campaign, Customer, Delivery, Tenant
from conveyor import BatchDone, Conveyor, Discard, JobContext

SENDER = "news@carwash.example"
TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
SAMPLE = {
    "customer": {"name": "Ana", "email": "ana@example.com", "last_wash_at": None},
    "tenant": {"name": "Sparkle Wash"},
}
FINAL_STATES = ("sent", "skipped", "bounced", "failed")


class CampaignRequest(BaseModel):
    """A marketing mail to every opted-in customer of a tenant."""

    tenant_id: int = Field(gt=0, lt=2**63)
    subject: str = Field(min_length=1, max_length=200, description="A Jinja2 template.")
    body: str = Field(
        min_length=1,
        max_length=20_000,
        description="A Jinja2 template (plain text) that sees customer.name, "
        "customer.email, customer.last_wash_at and tenant.name.",
    )

    @field_validator("subject", "body")
    @classmethod
    def _renders(cls, text: str) -> str:
        try:
            TEMPLATES.from_string(text).render(SAMPLE)
        except TemplateError as exc:
            raise ValueError(f"template does not render: {exc}") from None
        return text


class ChunkRequest(BaseModel):
    """Some recipients of one campaign (their delivery ids)."""

    campaign_id: int = Field(gt=0, lt=2**63)
    tenant_id: int = Field(gt=0, lt=2**63)
    delivery_ids: list[int] = Field(min_length=1, max_length=1_000)


class CampaignSent(BatchDone):
    """The chunk batch's callback payload: the batch's counts and the campaign."""

    campaign_id: int = Field(gt=0, lt=2**63)


class Pacer:
    """Spaces one chunk's sends to ``per_second`` (``None``: as fast as the server takes
    them). With at most N chunks of a tenant running cluster-wide (the task's concurrency
    limit per tenant), each pacing at 1/N of the tenant's rate, the tenant's rate holds
    across every machine."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next_slot: float | None = None

    async def wait(self) -> None:
        if not self.interval:
            return
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next_slot or now)
        self._next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def render(campaign: dict[str, Any], recipient: dict[str, Any]) -> EmailMessage:
    context = {
        "customer": {
            "name": recipient["name"],
            "email": recipient["email"],
            "last_wash_at": recipient["last_wash_at"],
        },
        "tenant": {"name": campaign["tenant_name"]},
    }
    message = EmailMessage()
    message["From"] = formataddr((campaign["tenant_name"], SENDER))
    message["To"] = recipient["email"]
    message["Subject"] = TEMPLATES.from_string(campaign["subject"]).render(context)
    message["Date"] = format_datetime(datetime.now(UTC))
    # One stable id per campaign and customer, so a mail system downstream can drop dups.
    message["Message-ID"] = f"<c{campaign['id']}.r{recipient['customer_id']}@carwash.example>"
    message["X-Carwash-Campaign"] = str(campaign["id"])
    message.set_content(TEMPLATES.from_string(campaign["body_template"]).render(context))
    return message


# -- the delivery ledger: each transition is one short commit ---------------------------


def _claim(conn: Connection, ids: list[int]) -> set[int]:
    """Take the still-pending deliveries among ``ids`` (one commit): they are ours to send."""
    claimed = conn.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == "pending")
        .values(state="sending", attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    ).scalars()
    return set(claimed)


def _record(conn: Connection, outcomes: dict[int, tuple[str, str | None]]) -> None:
    """Settle claimed deliveries (one commit): the same (state, reason) in one statement."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for delivery_id, outcome in outcomes.items():
        groups.setdefault(outcome, []).append(delivery_id)
    for (state, reason), ids in groups.items():
        _settle(conn, ids, state, reason, was="sending")


def _settle(conn: Connection, ids: list[int], state: str, reason: str | None, *, was: str) -> int:
    done = conn.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == was)
        .values(state=state, reason=reason, finished_at=datetime.now(UTC))
    )
    return done.rowcount


def _load_chunk(
    conn: Connection, campaign_id: int, ids: list[int]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    campaign = (
        conn.execute(
            select(
                Campaign.id,
                Campaign.subject,
                Campaign.body_template,
                Campaign.tenant_id,
                Tenant.name.label("tenant_name"),
                Tenant.email_rate_per_second.label("rate"),
            )
            .join(Tenant, Tenant.id == Campaign.tenant_id)
            .where(Campaign.id == campaign_id)
        )
        .mappings()
        .first()
    )
    if campaign is None:
        return None, []
    recipients = conn.execute(
        select(
            Delivery.id,
            Delivery.customer_id,
            Delivery.email,
            Customer.name,
            Customer.last_wash_at,
        )
        .join(Customer, Customer.id == Delivery.customer_id)
        .where(Delivery.id.in_(ids), Delivery.campaign_id == campaign_id)
        .where(Delivery.state == "pending")
        .order_by(Delivery.id)
    ).mappings()
    return dict(campaign), [dict(r) for r in recipients]


def _totals(conn: Connection, campaign_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(Delivery.state, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.state)
    ).all()
    counts = {state: 0 for state in ("pending", "sending", *FINAL_STATES)}
    counts.update({state: int(n) for state, n in rows})
    return counts


class EmailTasks:
    """The email task types, bound to one app, its database and its mail server."""

    def __init__(self, app: Conveyor, db: Database, config: CarwashConfig) -> None:
        self.app = app
        self.db = db
        self.config = config
        self.smtp = SmtpTarget.from_url(
            config.smtp_url or app.settings.smtp_url or DEFAULT_SMTP_URL
        )
        self.send_campaign = app.task(
            name="email.send_campaign", queue="email", max_attempts=5, timeout=300
        )(self._send_campaign)
        self.send_chunk = app.task(
            name="email.send_chunk",
            queue="email",
            max_attempts=config.email_max_attempts,
            retry=config.email_retry,
            timeout=600,
            # Tenants take turns, and at most N chunks of one tenant send at once anywhere:
            # each paces itself at 1/N of the tenant's rate, so the rate holds cluster-wide.
            fairness_key=lambda p: p.tenant_id,
            concurrency_key=lambda p: p.tenant_id,
            concurrency_limit=config.email_chunks_per_tenant,
        )(self._send_chunk)
        self.finish_campaign = app.task(
            name="email.finish_campaign", queue="email", max_attempts=10
        )(self._finish_campaign)

    async def _send_campaign(self, payload: CampaignRequest, ctx: JobContext) -> dict[str, Any]:
        """Mail a campaign to a tenant's opted-in customers: fans out into a batch of chunk
        jobs whose callback records the totals."""
        tenant = await self.db.read(
            lambda conn: (
                conn.execute(select(Tenant.id).where(Tenant.id == payload.tenant_id))
                .scalars()
                .first()
            )
        )
        if tenant is None:
            raise Discard(f"no tenant {payload.tenant_id}")
        # A retried attempt finds its campaign in the checkpoint, committed with it.
        created = ctx.checkpoint or await self._create_campaign(payload, ctx)
        campaign_id = int(created["campaign_id"])
        pending = await self.db.read(
            lambda conn: list(
                conn.execute(
                    select(Delivery.id)
                    .where(Delivery.campaign_id == campaign_id, Delivery.state == "pending")
                    .order_by(Delivery.id)
                ).scalars()
            )
        )
        size = self.config.campaign_chunk_size
        chunks = [
            ChunkRequest(
                campaign_id=campaign_id,
                tenant_id=payload.tenant_id,
                delivery_ids=pending[i : i + size],
            )
            for i in range(0, len(pending), size)
        ]
        batch_id = None
        if chunks:
            # The batch's key is this job's (a retry gets the same batch back).
            batch = await ctx.enqueue_batch(
                self.send_chunk,
                chunks,
                callback=self.finish_campaign,
                callback_payload={"campaign_id": campaign_id},
            )
            batch_id = batch.id
        else:
            await self.db.write(lambda conn: _finish(conn, campaign_id))
        return {
            "campaign_id": campaign_id,
            "recipients": int(created["recipients"]),
            "skipped": int(created["skipped"]),
            "chunks": len(chunks),
            "batch_id": batch_id,
        }

    async def _create_campaign(self, payload: CampaignRequest, ctx: JobContext) -> dict[str, int]:
        """The campaign and one delivery per customer (opted-out ones ``skipped``), saved
        with the job's checkpoint in one commit."""
        async with ctx.transaction() as tx:
            created = await run(
                tx,
                insert(Campaign)
                .values(
                    tenant_id=payload.tenant_id,
                    job_id=ctx.job_id,
                    subject=payload.subject,
                    body_template=payload.body,
                    state="sending",
                    recipients=0,
                    sent=0,
                    skipped=0,
                    bounced=0,
                    failed=0,
                    created_at=datetime.now(UTC),
                )
                .returning(Campaign.id),
            )
            campaign_id = int(created[0]["id"])
            opted_in = Customer.marketing_opt_in.is_(True)
            await run(
                tx,
                insert(Delivery).from_select(
                    ["campaign_id", "customer_id", "email", "state", "reason", "attempts"],
                    select(
                        literal(campaign_id),
                        Customer.id,
                        Customer.email,
                        case((opted_in, "pending"), else_="skipped"),
                        case((opted_in, None), else_="opted out of marketing mail"),
                        literal(0),
                    ).where(Customer.tenant_id == payload.tenant_id),
                ),
            )
            rows = await run(tx, select(Delivery.state).where(Delivery.campaign_id == campaign_id))
            skipped = sum(1 for r in rows if r["state"] == "skipped")
            await run(
                tx,
                update(Campaign).where(Campaign.id == campaign_id).values(recipients=len(rows)),
            )
            checkpoint = {"campaign_id": campaign_id, "recipients": len(rows), "skipped": skipped}
            await tx.save_checkpoint(checkpoint)
        return checkpoint

    async def _send_chunk(self, payload: ChunkRequest, ctx: JobContext) -> dict[str, int]:
        """Mail one chunk of a campaign's recipients over one SMTP connection."""
        ids = payload.delivery_ids
        # A delivery left 'sending' by an earlier attempt may have arrived: never resend.
        interrupted = await self.db.write(
            lambda conn: _settle(
                conn,
                ids,
                "failed",
                "interrupted during the SMTP conversation; not sent again",
                was="sending",
            )
        )
        campaign, recipients = await self.db.read(
            lambda conn: _load_chunk(conn, payload.campaign_id, ids)
        )
        if campaign is None:
            raise Discard(f"no campaign {payload.campaign_id}")
        outcome = {"sent": 0, "bounced": 0, "failed": interrupted, "to_send": len(recipients)}
        try:
            await self._mail_all(campaign, recipients, outcome, ctx)
        except SendFailure as exc:
            if ctx.attempt < ctx.job.max_attempts:
                raise  # retried with backoff; what was sent stays sent
            left, reason = [r["id"] for r in recipients], f"gave up: {exc}"
            outcome["failed"] += await self.db.write(
                lambda conn: _settle(conn, left, "failed", reason, was="pending")
            )
        await ctx.progress(len(ids), len(ids))
        return outcome

    async def _mail_all(
        self,
        campaign: dict[str, Any],
        recipients: list[dict[str, Any]],
        outcome: dict[str, int],
        ctx: JobContext,
    ) -> None:
        window = self.config.email_claim_window
        share = self.config.email_chunks_per_tenant
        pacer = Pacer(campaign["rate"] / share if campaign["rate"] else None)
        async with open_smtp(self.smtp) as session:
            for start in range(0, len(recipients), window):
                outcomes = await self._mail_window(
                    session, pacer, campaign, recipients[start : start + window]
                )
                for delivery_id, (state, reason) in outcomes.items():
                    outcome[state] = outcome.get(state, 0) + 1
                    # The engine's item ledger (shared by the batch) shows each outcome.
                    if state == "sent":
                        await ctx.items.mark_done(delivery_id)
                    else:
                        await ctx.items.mark_failed(delivery_id, f"{state}: {reason}")
                await ctx.progress(min(start + window, len(recipients)), len(recipients))

    async def _mail_window(
        self,
        session: MailSession,
        pacer: Pacer,
        campaign: dict[str, Any],
        window: list[dict[str, Any]],
    ) -> dict[int, tuple[str, str | None]]:
        """Claim a window of recipients (one commit), send to each, record every outcome
        (one commit). A failure that stops the chunk puts the unsent ones back to
        ``pending`` — unless the message may have arrived (``Unknown``)."""
        claimed = await self.db.write(lambda conn: _claim(conn, [int(r["id"]) for r in window]))
        outcomes: dict[int, tuple[str, str | None]] = {}
        try:
            for recipient in window:
                delivery_id = int(recipient["id"])
                if delivery_id not in claimed:
                    continue  # another attempt got to it first
                await pacer.wait()
                outcomes[delivery_id] = await self._mail_one(session, campaign, recipient)
        except Unknown as exc:
            outcomes[delivery_id] = ("failed", exc.reason)
            raise
        finally:
            unsent = {d: ("pending", None) for d in claimed if d not in outcomes}
            await self.db.write(lambda conn: _record(conn, {**outcomes, **unsent}))
        return outcomes

    async def _mail_one(
        self, session: MailSession, campaign: dict[str, Any], recipient: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Send to one recipient: ``(state, reason)``. Raises ``NotSent``/``Unknown`` when
        the chunk should stop and retry later."""
        try:
            message = render(campaign, recipient)
            await session.send(message, sender=SENDER, recipient=recipient["email"])
        except TemplateError as exc:
            return "failed", f"template: {exc}"
        except Bounced as exc:
            return "bounced", exc.reason
        return "sent", None

    async def _finish_campaign(self, payload: CampaignSent) -> dict[str, int]:
        """Record a campaign's totals (sent, skipped, bounced, failed) once every chunk
        job is final (the batch's callback)."""
        totals = await self.db.write(lambda conn: _finish(conn, payload.campaign_id))
        return {**totals, "chunks_completed": payload.completed, "chunks_failed": payload.failed}


def _finish(conn: Connection, campaign_id: int) -> dict[str, int]:
    # Anything still open here belongs to a chunk that ended without sending it.
    open_ids = list(
        conn.execute(
            select(Delivery.id).where(
                Delivery.campaign_id == campaign_id,
                Delivery.state.in_(("pending", "sending")),
            )
        ).scalars()
    )
    for state in ("pending", "sending"):
        _settle(conn, open_ids, "failed", "its chunk job ended without it", was=state)
    totals = _totals(conn, campaign_id)
    finals = {k: totals[k] for k in FINAL_STATES}
    conn.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(state="finished", finished_at=datetime.now(UTC), **finals)
    )
    return finals
