"""``python -m carwash.demo``: migrate, load the demo data once, print what to try.

``make run`` runs this, then ``conveyor serve`` (the API, a worker, the scheduler and —
with no ``CONVEYOR_SMTP_URL`` — the local mail sink on 127.0.0.1:8025).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from carwash.app import app
from carwash.db import make_engine
from carwash.demodata import load_demo
from carwash.models import Tenant
from conveyor import Conveyor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
API = "http://127.0.0.1:8000"


def instructions(tenants: list[dict[str, object]], examples: Path) -> str:
    first = tenants[0]["id"] if tenants else 1
    names = ", ".join(f"{t['id']} {t['name']} ({t['timezone']})" for t in tenants)
    post = f"curl -s -X POST -H 'content-type: application/json' {API}/api/tasks"
    return "\n".join(
        [
            f"Demo tenants: {names}",
            "",
            "Once `conveyor serve` runs (next), try — and watch each job with",
            f"  curl -s {API}/api/jobs/<id>   or   .venv/bin/conveyor jobs list",
            "",
            "1. A campaign to every opted-in customer (mail lands in the local sink):",
            f'  {post}/email.send_campaign -d \'{{"tenant_id": {first}, '
            '"subject": "Spring offer for {{ customer.name }}", '
            '"body": "Hi {{ customer.name }}, {{ tenant.name }} washes your car for less."}\'',
            f"  curl -s {API}/api/campaigns/1        # live counts: pending, sent, bounced ...",
            f"  curl -s '{API}/api/mail?limit=3'     # what the sink received",
            "2. Credits for everyone who washed in the last 30 days, all at once:",
            f'  {post}/credits.grant -d \'{{"tenant_id": {first}, "amount": 5, '
            '"reason": "rainy week", "washed_within_days": 30}\'',
            f"  curl -s {API}/api/customers/1/credits",
            "3. The financial sync (also nightly at 02:00 in each tenant's zone):",
            f"  {post}/finance.sync -d '{{\"tenant_id\": {first}}}'",
            f"  curl -s {API}/api/tenants/{first}/summaries?limit=7",
            "4. An employee CSV with a few bad rows (the job's result lists them):",
            f"  curl -s -F file=@{examples / 'employees.csv'} "
            f"'{API}/api/uploads/employees?tenant_id={first}'",
            "",
            f"All endpoints: {API}/docs",
        ]
    )


def list_tenants(url: str) -> list[dict[str, object]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Tenant.id, Tenant.name, Tenant.timezone)).all()
    finally:
        engine.dispose()
    return [{"id": r.id, "name": r.name, "timezone": r.timezone} for r in rows]


async def main(conveyor: Conveyor) -> None:
    try:
        version = await conveyor.migrate()
        url = conveyor.settings.resolved_database_url
        print(f"migrated {url} (engine schema v{version}, car-wash schema at head)")
        loaded = await asyncio.to_thread(load_demo, url)
        if loaded["loaded"]:
            print(
                f"loaded demo data: {len(loaded['tenants'])} tenants, "
                f"{loaded['customers']} customers, {loaded['days']} days of transactions"
            )
        else:
            print("demo data already loaded")
        print(instructions(await asyncio.to_thread(list_tenants, url), EXAMPLES))
    finally:
        await conveyor.close()


if __name__ == "__main__":
    asyncio.run(main(app))
