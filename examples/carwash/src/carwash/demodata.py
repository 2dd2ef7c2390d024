"""Demo data for the car-wash app: tenants in three zones, customers, weeks of transactions.

Deterministic (a fixed random seed) and idempotent: ``load_demo`` loads nothing when the
database already has tenants. The ``add_*`` helpers are what tests use to build their own.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select

from carwash.db import make_engine
from carwash.models import Customer, Tenant, Transaction

DEMO_TENANTS = (
    ("Sparkle Wash Chicago", "America/Chicago", 20.0),
    ("Blaue Lagune Autopflege", "Europe/Berlin", 10.0),
    ("Harbour Suds Sydney", "Australia/Sydney", None),
)
FIRST = ("Ana", "Bo", "Chen", "Dara", "Eli", "Fatma", "Gus", "Hana", "Ivan", "Jo", "Kemal", "Lea")
LAST = ("Silva", "Berg", "Wong", "Okafor", "Novak", "Yilmaz", "Moreau", "Sato", "Klein", "Diaz")
KINDS = (("sale", 0.85), ("refund", 0.05), ("tip", 0.10))


def add_tenant(
    conn: Connection, name: str, timezone: str, email_rate_per_second: float | None = None
) -> int:
    return int(
        conn.execute(
            insert(Tenant)
            .values(name=name, timezone=timezone, email_rate_per_second=email_rate_per_second)
            .returning(Tenant.id)
        ).scalar_one()
    )


def add_customers(
    conn: Connection,
    tenant_id: int,
    count: int,
    *,
    rng: random.Random,
    opt_in_ratio: float = 0.8,
    now: datetime,
    domain: str = "example.com",
) -> list[int]:
    """``count`` customers with unique addresses; about ``opt_in_ratio`` opted in."""
    rows: list[dict[str, Any]] = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        washed = (
            now - timedelta(minutes=rng.randrange(90 * 24 * 60)) if rng.random() < 0.9 else None
        )
        rows.append(
            {
                "tenant_id": tenant_id,
                "email": f"{first}.{last}.{tenant_id}.{n}@{domain}".lower(),
                "name": f"{first} {last}",
                "marketing_opt_in": rng.random() < opt_in_ratio,
                "last_wash_at": washed,
            }
        )
    conn.execute(insert(Customer), rows)
    ids = conn.execute(
        select(Customer.id).where(Customer.tenant_id == tenant_id).order_by(Customer.id)
    ).scalars()
    return list(ids)[-count:]


def transaction_rows(
    tenant_id: int, *, days: int, per_day: int, rng: random.Random, until: datetime
) -> list[dict[str, Any]]:
    """About ``per_day`` transactions a day over the ``days`` days before ``until``, in
    time order (as a web app writes them)."""
    rows: list[dict[str, Any]] = []
    start = until - timedelta(days=days)
    for _ in range(days * per_day):
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        amount = {"sale": rng.choice((999, 1499, 1999, 2499, 3999)), "refund": 999}.get(
            kind, rng.choice((100, 200, 500))
        )
        occurred = start + timedelta(seconds=rng.randrange(days * 86_400))
        rows.append(
            {"tenant_id": tenant_id, "occurred_at": occurred, "kind": kind, "amount_cents": amount}
        )
    rows.sort(key=lambda r: r["occurred_at"])
    return rows


def add_transactions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(Transaction), list(rows))


def load_demo(
    url: str,
    *,
    customers: int = 5_000,
    days: int = 60,
    per_day: int = 120,
    seed: int = 7,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Load the demo once: 3 tenants in three zones, ``customers`` customers split among
    them, ``days`` days of transactions. Returns what it loaded (``loaded`` False: the
    database already had tenants, so nothing was touched)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(Tenant)).scalar_one():
                return {"loaded": False}
            tenants = []
            for index, (name, zone, rate) in enumerate(DEMO_TENANTS):
                tenant_id = add_tenant(conn, name, zone, rate)
                share = customers // len(DEMO_TENANTS) + (
                    1 if index < customers % len(DEMO_TENANTS) else 0
                )
                add_customers(conn, tenant_id, share, rng=rng, now=now)
                add_transactions(
                    conn,
                    transaction_rows(tenant_id, days=days, per_day=per_day, rng=rng, until=now),
                )
                tenants.append({"id": tenant_id, "name": name, "timezone": zone})
        return {"loaded": True, "tenants": tenants, "customers": customers, "days": days}
    finally:
        engine.dispose()
