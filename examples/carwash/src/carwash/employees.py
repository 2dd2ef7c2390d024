"""Employee file import: ``employees.import`` upserts a stored CSV's valid rows in small
transactions and reports every rejected row; ``files.cleanup`` applies the retention.

A file that cannot be imported at all (gone, empty, binary, too large, no header)
finishes the job with a report that says why — the job does not fail, and the worker
never crashes. Each batch of ``import_batch_size`` rows is one short transaction that also
saves the job's checkpoint, so the employees table is never locked for long and a
rescued import continues after the last committed batch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite

from carwash.config import CarwashConfig
from carwash.csvfile import EmployeeRow, FileRefused, parse_employees
from carwash.db import Database, run
from carwash.files import FileMissing, FileStore
from carwash.models import Employee
from conveyor import Conveyor, JobContext

REPORTED_REJECTIONS = 1_000
UPDATED_COLUMNS = ("first_name", "last_name", "email", "role", "hourly_wage_cents", "hired_on")


class ImportRequest(BaseModel):
    """Import the uploaded employee file ``file_id`` into ``tenant_id``."""

    tenant_id: int = Field(gt=0, lt=2**63)
    file_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class CleanupRequest(BaseModel):
    """Delete uploaded files older than the retention."""


def _upsert(dialect: str, tenant_id: int, rows: list[EmployeeRow]) -> Insert:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Employee)
    values = [
        {
            "tenant_id": tenant_id,
            "employee_number": row.employee_number,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "email": str(row.email),
            "role": row.role,
            "hourly_wage_cents": row.hourly_wage_cents,
            "hired_on": row.hired_on,
        }
        for row in rows
    ]
    return statement.values(values).on_conflict_do_update(
        index_elements=["tenant_id", "employee_number"],
        set_={name: statement.excluded[name] for name in UPDATED_COLUMNS},
    )


def _report(**fields: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "error": None,
        "rows_read": 0,
        "inserted": 0,
        "updated": 0,
        "rejected": 0,
        "rejections": [],
    }
    report.update(fields)
    return report


def register(app: Conveyor, db: Database, config: CarwashConfig) -> FileStore:
    """Declare the import tasks on ``app``; returns the file store uploads go to."""
    files = FileStore(app.settings.data_dir / "uploads", retention=config.upload_retention)

    @app.task(name="employees.import", queue="imports", max_attempts=5, timeout=900)
    async def import_employees(payload: ImportRequest, ctx: JobContext) -> dict[str, Any]:
        """Import an uploaded employee CSV: good rows upserted, bad rows reported."""
        try:
            stored = files.info(payload.file_id)
            if stored.size > config.upload_max_bytes:
                return _report(error=f"the file is larger than {config.upload_max_bytes} bytes")
            data = await asyncio.to_thread(files.read, payload.file_id)
            parsed = await asyncio.to_thread(parse_employees, data)
        except FileMissing:
            return _report(error=f"no stored file {payload.file_id} (expired or never uploaded)")
        except FileRefused as exc:
            return _report(error=str(exc), file=stored.name)
        if stored.tenant_id != payload.tenant_id:
            return _report(error=f"file {payload.file_id} was uploaded for another tenant")

        progress: dict[str, int] = ctx.checkpoint or {"next": 0, "inserted": 0, "updated": 0}
        batch_size = config.import_batch_size
        while progress["next"] < len(parsed.valid):
            batch = [
                row for _, row in parsed.valid[progress["next"] : progress["next"] + batch_size]
            ]
            async with ctx.transaction() as tx:
                numbers = [row.employee_number for row in batch]
                known = await run(
                    tx,
                    select(Employee.employee_number).where(
                        Employee.tenant_id == payload.tenant_id,
                        Employee.employee_number.in_(numbers),
                    ),
                )
                await run(tx, _upsert(tx.dialect, payload.tenant_id, batch))
                progress = {
                    "next": progress["next"] + len(batch),
                    "inserted": progress["inserted"] + len(batch) - len(known),
                    "updated": progress["updated"] + len(known),
                }
                await tx.save_checkpoint(progress)
            await ctx.progress(progress["next"], len(parsed.valid))
        return _report(
            file=stored.name,
            encoding=parsed.encoding,
            delimiter=parsed.delimiter,
            rows_read=parsed.rows_read,
            inserted=progress["inserted"],
            updated=progress["updated"],
            rejected=parsed.rejected_rows,
            rejections=[r.to_json() for r in parsed.rejections[:REPORTED_REJECTIONS]],
        )

    @app.task(name="files.cleanup", queue="maintenance", max_attempts=3, timeout=300)
    async def cleanup_files(payload: CleanupRequest) -> dict[str, int]:
        """Delete uploaded files older than the retention (default 7 days)."""
        return {"removed": await asyncio.to_thread(files.cleanup)}

    app.schedule(cleanup_files, name="files.daily_cleanup", cron="30 3 * * *", payload={})
    return files
