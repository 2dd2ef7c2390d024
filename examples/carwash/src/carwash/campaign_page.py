"""The Campaigns page of Conveyor's dashboard: each recent campaign's live counts and the
demo mail sink's inbox (added with ``app.add_dashboard_page``)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from carwash.db import Database
from carwash.mailsink import mailbox_dir, read_mailbox
from carwash.models import Campaign, Delivery, Tenant
from conveyor import Conveyor, PageContext
from conveyor.page import PageRender

if TYPE_CHECKING:
    from jinja2 import Environment

RECENT_CAMPAIGNS = 20
INBOX = 20
COUNTED = ("pending", "sent", "bounced", "failed", "skipped")


@functools.cache
def _environment() -> Environment:
    # Imported on first render: loading the app (every CLI command) need not import Jinja2.
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


def _campaigns(conn: Connection) -> list[dict[str, Any]]:
    """The newest campaigns with their deliveries counted by state, live while sending
    (one grouped read through the (campaign_id, state) index)."""
    rows = conn.execute(
        select(Campaign.id, Campaign.job_id, Campaign.subject, Campaign.state,
               Campaign.recipients, Tenant.name.label("tenant"))
        .join(Tenant, Tenant.id == Campaign.tenant_id)
        .order_by(Campaign.id.desc())
        .limit(RECENT_CAMPAIGNS)
    ).mappings().all()  # fmt: skip
    ids = [r["id"] for r in rows]
    counts: dict[int, dict[str, int]] = {i: dict.fromkeys(COUNTED, 0) for i in ids}
    if ids:
        grouped = conn.execute(
            select(Delivery.campaign_id, Delivery.state, func.count())
            .where(Delivery.campaign_id.in_(ids))
            .group_by(Delivery.campaign_id, Delivery.state)
        )
        for campaign_id, state, n in grouped:
            # A delivery "sending" is still to be decided: pending, for the operator.
            key = "pending" if state == "sending" else state
            counts[campaign_id][key] += int(n)
    return [{**r, "counts": counts[r["id"]]} for r in rows]


def campaigns_page(app: Conveyor, db: Database) -> PageRender:
    """The page's render function, bound to the app's database and mailbox."""

    async def render(context: PageContext) -> str:
        campaigns = await db.read(_campaigns)
        inbox = await asyncio.to_thread(read_mailbox, mailbox_dir(app), limit=INBOX)
        template = _environment().get_template("campaign_page.html")
        return template.render(campaigns=campaigns, inbox=inbox, counted=COUNTED)

    return render
