"""The car-wash app's own HTTP routes, served by Conveyor's API (``app.add_api_router``).

The task endpoints (``POST /api/tasks/credits.grant`` …) come from the registry; these add
what a task endpoint cannot do: take a file upload, and show the domain's state (a
campaign's live counts, the daily summaries, a customer's credits, the demo's mailbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, func, select

from carwash.campaigns import FINAL_STATES
from carwash.config import CarwashConfig
from carwash.csvfile import FileRefused, check_header
from carwash.db import Database, as_utc
from carwash.files import FileMissing, FileStore, FileTooLarge
from carwash.mailsink import mailbox_dir, read_mailbox
from carwash.models import Campaign, CreditEntry, Customer, DailySummary, Delivery, Tenant
from conveyor import Conveyor
from conveyor.api import require_admin, require_reader

READ_CHUNK = 64 * 1024
Positive = Annotated[int, Query(gt=0, lt=2**63)]
# A path id that a 64-bit column can hold; anything beyond is a 422, not a database error.
RowId = Annotated[int, Path(ge=-(2**63), lt=2**63)]


def _tenant_exists(conn: Connection, tenant_id: int) -> bool:
    return conn.execute(select(Tenant.id).where(Tenant.id == tenant_id)).first() is not None


def router(app: Conveyor, db: Database, files: FileStore, config: CarwashConfig) -> APIRouter:
    """The routes, bound to ``app``'s database and file store."""
    api = APIRouter(prefix="/api", tags=["car wash"])
    _add_upload_routes(api, app, db, files, config)
    _add_campaign_routes(api, app, db)
    _add_domain_routes(api, db)
    return api


def _add_upload_routes(
    api: APIRouter, app: Conveyor, db: Database, files: FileStore, config: CarwashConfig
) -> None:

    @api.post(
        "/uploads/employees",
        status_code=202,
        dependencies=[Depends(require_admin)],
        summary="Upload an employee CSV and import it",
    )
    async def upload_employees(file: UploadFile, tenant_id: Positive) -> JSONResponse:
        """Store the CSV (at most ``upload_max_bytes``), check that it is a CSV with the
        required header, and enqueue ``employees.import``. Answers 202 with the stored
        file and the job; 413 when too large; 422 when empty, binary or headerless."""
        if not await db.read(lambda conn: _tenant_exists(conn, tenant_id)):
            raise HTTPException(404, f"no tenant {tenant_id}")

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await file.read(READ_CHUNK):
                yield chunk

        try:
            stored = await files.save(
                chunks(),
                name=file.filename or "employees.csv",
                kind="employees",
                tenant_id=tenant_id,
                max_bytes=config.upload_max_bytes,
            )
        except FileTooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        try:
            await asyncio.to_thread(check_header, files.read(stored.id))
        except FileRefused as exc:
            raise HTTPException(422, f"{stored.name}: {exc}") from None
        job = await app.enqueue("employees.import", {"tenant_id": tenant_id, "file_id": stored.id})
        return JSONResponse(
            {"file": asdict(stored), "job": job.to_json()},
            status_code=202,
            headers={"Location": f"/api/jobs/{job.id}"},
        )

    @api.get("/uploads/{file_id}", dependencies=[Depends(require_reader)])
    async def upload_info(file_id: str) -> dict[str, Any]:
        try:
            return asdict(files.info(file_id))
        except FileMissing:
            raise HTTPException(404, f"no stored file {file_id}") from None


def _add_campaign_routes(api: APIRouter, app: Conveyor, db: Database) -> None:
    @api.get("/campaigns/{campaign_id}", dependencies=[Depends(require_reader)])
    async def campaign(campaign_id: RowId) -> dict[str, Any]:
        """A campaign with its recipients counted by state, live while it sends."""

        def load(conn: Connection) -> dict[str, Any] | None:
            table = Campaign.__table__
            found = conn.execute(select(table).where(table.c.id == campaign_id)).first()
            if found is None:
                return None
            counts = dict(
                conn.execute(
                    select(Delivery.state, func.count())
                    .where(Delivery.campaign_id == campaign_id)
                    .group_by(Delivery.state)
                ).all()
            )
            return {
                "id": found.id,
                "tenant_id": found.tenant_id,
                "subject": found.subject,
                "state": found.state,
                "recipients": found.recipients,
                "live": {s: counts.get(s, 0) for s in ("pending", "sending", *FINAL_STATES)},
                "totals": {s: getattr(found, s) for s in FINAL_STATES},
                "finished_at": as_utc(found.finished_at).isoformat() if found.finished_at else None,
            }

        loaded = await db.read(load)
        if loaded is None:
            raise HTTPException(404, f"no campaign {campaign_id}")
        return loaded

    @api.get("/mail", dependencies=[Depends(require_reader)])
    async def mail(limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
        """Mail the demo's local SMTP sink received, newest first."""
        received = await asyncio.to_thread(read_mailbox, mailbox_dir(app), limit=limit)
        return [m.to_json() for m in received]


def _add_domain_routes(api: APIRouter, db: Database) -> None:
    @api.get("/tenants", dependencies=[Depends(require_reader)])
    async def tenants() -> list[dict[str, Any]]:
        def load(conn: Connection) -> list[dict[str, Any]]:
            customers = (
                select(Customer.tenant_id, func.count().label("n"))
                .group_by(Customer.tenant_id)
                .subquery()
            )
            rows = conn.execute(
                select(Tenant.id, Tenant.name, Tenant.timezone, customers.c.n)
                .outerjoin(customers, customers.c.tenant_id == Tenant.id)
                .order_by(Tenant.id)
            ).mappings()
            return [
                {
                    "id": r["id"],
                    "name": r["name"],
                    "timezone": r["timezone"],
                    "customers": r["n"] or 0,
                }
                for r in rows
            ]

        return await db.read(load)

    @api.get("/tenants/{tenant_id}/summaries", dependencies=[Depends(require_reader)])
    async def summaries(
        tenant_id: RowId, since: date | None = None, limit: Annotated[int, Query(ge=1, le=366)] = 31
    ) -> list[dict[str, Any]]:
        """The tenant's daily summaries (the financial sync's output), newest first."""

        def load(conn: Connection) -> list[dict[str, Any]]:
            query = select(DailySummary.__table__).where(DailySummary.tenant_id == tenant_id)
            if since is not None:
                query = query.where(DailySummary.day >= since)
            rows = conn.execute(query.order_by(DailySummary.day.desc()).limit(limit))
            return [
                {
                    "day": s.day.isoformat(),
                    "transactions": s.transactions,
                    "sales_cents": s.sales_cents,
                    "refunds_cents": s.refunds_cents,
                    "tips_cents": s.tips_cents,
                }
                for s in rows
            ]

        return await db.read(load)

    @api.get("/customers/{customer_id}/credits", dependencies=[Depends(require_reader)])
    async def customer_credits(customer_id: RowId) -> dict[str, Any]:
        def load(conn: Connection) -> dict[str, Any]:
            total, grants = conn.execute(
                select(func.coalesce(func.sum(CreditEntry.amount), 0), func.count()).where(
                    CreditEntry.customer_id == customer_id
                )
            ).one()
            return {"customer_id": customer_id, "credits": int(total), "grants": int(grants)}

        return await db.read(load)
