"""Bulk email: a campaign fans out into chunk jobs that mail each opted-in customer once.

``email.send_campaign`` creates the campaign, one delivery row per customer of the tenant
(opted-out customers ``skipped`` at once) and the chunk jobs of at most
``campaign_chunk_size`` recipients: the campaign and its deliveries commit with the job's
checkpoint, and the chunks go out as one batch (``ctx.enqueue_batch``, keyed by the job,
so a retry never makes a second). ``email.send_chunk`` mails its recipients over one SMTP
connection; ``email.finish_campaign``, the batch's callback, records the totals once every
chunk job is final. Each outcome is also marked in the engine's item ledger.

Never twice, and at most one unknown: a delivery moves ``pending`` → ``sending`` in a
commit that lands *before* its SMTP ``DATA`` (it runs while ``MAIL``/``RCPT`` go out), and
only a ``pending`` one is ever sent; its outcome commits with the next recipient's claim.
A retried or rescued chunk therefore skips what was sent, and finds at most the one
recipient whose message was in flight ``sending``: that one is marked ``failed`` (it may
have arrived) instead of being sent again. The claims of all chunks sending in one process
share commits (``DeliveryLog``), so a durable write per recipient does not cost a commit
per recipient.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Connection, case, func, insert, literal, select, update

from carwash.config import CarwashConfig
from carwash.db import Database, run
from carwash.deliveries import DeliveryLog, Step, settle
from carwash.mail import (
    DEFAULT_SMTP_URL,
    Bounced,
    MailSession,
    NotSent,
    SendFailure,
    SmtpTarget,
    Unknown,
)
from carwash.mail import open_session as open_smtp
from carwash.models import Campaign, Customer, Delivery, Tenant
from carwash.templates import (
    SAMPLE,
    SENDER,
    RenderFailed,
    Templates,
    compile_template,
    render_bounded,
    template_error,
)
from conveyor import BatchDone, Conveyor, Discard, JobContext

FINAL_STATES = ("sent", "skipped", "bounced", "failed")
PROGRESS_EVERY_SECONDS = 1.0
INTERRUPTED = "interrupted while its message was in flight: it may have arrived, not sent again"


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
            render_bounded(compile_template(text), SAMPLE)
        except template_error() as exc:
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
        self.log = DeliveryLog(db)
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
            lambda conn: settle(
                conn,
                ids,
                "failed",
                INTERRUPTED,
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
                lambda conn: settle(conn, left, "failed", reason, was="pending")
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
        """Send to each recipient in turn. Its claim is committed (with the previous
        recipient's outcome) while ``MAIL``/``RCPT`` go out, and ``DATA`` waits for it: a
        worker killed at any point leaves at most this one recipient ``sending``. A failure
        that stops the chunk puts the claimed-but-unsent recipient back to ``pending`` —
        unless the message may have arrived (``Unknown``)."""
        share = self.config.email_chunks_per_tenant
        pacer = Pacer(campaign["rate"] / share if campaign["rate"] else None)
        templates = Templates(campaign)
        unsaved: list[tuple[int, str, str | None]] = []  # outcomes not yet committed
        reported = asyncio.get_running_loop().time()
        async with open_smtp(self.smtp) as session:
            try:
                for done, recipient in enumerate(recipients):
                    await pacer.wait()
                    delivery_id = int(recipient["id"])
                    step = Step(settle=tuple(unsaved), claim=delivery_id)
                    claim = asyncio.ensure_future(self.log.write(step))
                    try:
                        state, reason = await self._mail_one(session, templates, recipient, claim)
                    except BaseException as exc:
                        unsaved = await self._unsaved_after(exc, claim, unsaved, delivery_id)
                        raise
                    unsaved = [(delivery_id, state, reason)] if state else []
                    if state:
                        await self._count(ctx, outcome, delivery_id, state, reason)
                    now = asyncio.get_running_loop().time()
                    if now - reported >= PROGRESS_EVERY_SECONDS:
                        reported = now
                        await ctx.progress(done + 1, len(recipients))
            finally:
                if unsaved:
                    await self.log.write(Step(settle=tuple(unsaved)))

    @staticmethod
    async def _unsaved_after(
        exc: BaseException,
        claim: asyncio.Future[bool],
        unsaved: list[tuple[int, str, str | None]],
        delivery_id: int,
    ) -> list[tuple[int, str, str | None]]:
        """What is left to settle when sending to ``delivery_id`` stopped with ``exc``."""
        await asyncio.wait([claim])
        if claim.cancelled() or claim.exception() is not None:
            return unsaved  # that step never committed
        if not claim.result():
            return []
        if isinstance(exc, Unknown):
            return [(delivery_id, "failed", exc.reason)]
        if isinstance(exc, NotSent):
            return [(delivery_id, "pending", None)]  # nothing arrived: send it later
        # Anything else (a timeout's cancellation mid-DATA…) may have delivered it: it
        # stays ``sending`` and the next attempt marks it failed instead of resending.
        return []

    async def _mail_one(
        self,
        session: MailSession,
        templates: Templates,
        recipient: dict[str, Any],
        claim: asyncio.Future[bool],
    ) -> tuple[str | None, str | None]:
        """Send to one recipient once ``claim`` is committed: ``(state, reason)``, with
        ``state`` ``None`` when another attempt claimed it first. Raises ``NotSent`` /
        ``Unknown`` when the chunk should stop and retry later."""
        try:
            message = templates.render(recipient)
        except RenderFailed as exc:
            return ("failed", str(exc)) if await claim else (None, None)
        try:
            await session.envelope(sender=SENDER, recipient=recipient["email"])
        except Bounced as exc:
            return ("bounced", exc.reason) if await claim else (None, None)
        if not await claim:
            await session.reset()  # another attempt got to it first
            return None, None
        try:
            await session.data(message)
        except Bounced as exc:
            return "bounced", exc.reason
        return "sent", None

    @staticmethod
    async def _count(
        ctx: JobContext, outcome: dict[str, int], delivery_id: int, state: str, reason: str | None
    ) -> None:
        outcome[state] = outcome.get(state, 0) + 1
        # The engine's item ledger (shared by the batch) shows each outcome.
        if state == "sent":
            await ctx.items.mark_done(delivery_id)
        else:
            await ctx.items.mark_failed(delivery_id, f"{state}: {reason}")

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
        settle(conn, open_ids, "failed", "its chunk job ended without it", was=state)
    totals = _totals(conn, campaign_id)
    finals = {k: totals[k] for k in FINAL_STATES}
    conn.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(state="finished", finished_at=datetime.now(UTC), **finals)
    )
    return finals
