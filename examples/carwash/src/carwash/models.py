"""The car-wash domain's tables (SQLAlchemy 2.0), living beside Conveyor's in one database.

Every table is prefixed ``carwash_`` so that it never meets one of the engine's
(``conveyor_``). Times are stored in UTC; a tenant's own zone is used only to cut its
business days. Money is integer cents. The schema itself is created and evolved by the
Alembic revisions in ``carwash/migrations`` (never by ``metadata.create_all``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite keeps 64-bit integers in INTEGER; only INTEGER PRIMARY KEY is its rowid alias.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "pk": "pk_%(table_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )


class Tenant(Base):
    """A car-wash operator. ``timezone`` (IANA) decides where its business days begin."""

    __tablename__ = "carwash_tenants"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    email_rate_per_second: Mapped[float | None] = mapped_column(default=None)
    """Mails per second this tenant may send (``None``: unlimited)."""


class Customer(Base):
    """A tenant's customer; only those with ``marketing_opt_in`` receive campaigns."""

    __tablename__ = "carwash_customers"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("carwash_tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    last_wash_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CreditGrant(Base):
    """One grant of ``amount`` credits; ``job_id`` (unique) is the job that made it, so a
    job can never make two grants."""

    __tablename__ = "carwash_credit_grants"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("carwash_tenants.id"))
    job_id: Mapped[int] = mapped_column(Id, unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    customer_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditEntry(Base):
    """The credit ledger: one row per customer per grant (unique), never updated."""

    __tablename__ = "carwash_credit_ledger"
    __table_args__ = (UniqueConstraint("grant_id", "customer_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("carwash_credit_grants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("carwash_customers.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)


class Campaign(Base):
    """A marketing mail to a tenant's opted-in customers, and its final totals."""

    __tablename__ = "carwash_email_campaigns"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("carwash_tenants.id"))
    job_id: Mapped[int] = mapped_column(Id, unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    body_template: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="sending")
    """``sending`` until every recipient has an outcome, then ``finished``."""
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    bounced: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


DELIVERY_STATES = ("pending", "sending", "sent", "skipped", "bounced", "failed")


class Delivery(Base):
    """One recipient of one campaign (unique): the per-item ledger that makes "never the
    same campaign twice to one address" hold. ``sending`` is taken, in its own commit,
    before the SMTP conversation, so a crash mid-send is never followed by a resend."""

    __tablename__ = "carwash_email_deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_carwash_email_deliveries_campaign_state", "campaign_id", "state"),
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'skipped', 'bounced', 'failed')",
            name="state_known",
        ),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("carwash_email_campaigns.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("carwash_customers.id"))
    email: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Employee(Base):
    """A tenant's employee, keyed by the tenant's own ``employee_number`` (imports upsert)."""

    __tablename__ = "carwash_employees"
    __table_args__ = (UniqueConstraint("tenant_id", "employee_number"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("carwash_tenants.id"))
    employee_number: Mapped[str] = mapped_column(String(50))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(50))
    hourly_wage_cents: Mapped[int | None] = mapped_column(Integer)
    hired_on: Mapped[date | None] = mapped_column(Date)


class Transaction(Base):
    """A financial transaction written by the web app (a sale, refund or tip), in cents."""

    __tablename__ = "carwash_transactions"
    __table_args__ = (Index("ix_carwash_transactions_tenant_id_id", "tenant_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("carwash_tenants.id"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class DailySummary(Base):
    """A tenant's totals for one business day (in the tenant's zone): the sync's output."""

    __tablename__ = "carwash_daily_summaries"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("carwash_tenants.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    transactions: Mapped[int] = mapped_column(Integer)
    sales_cents: Mapped[int] = mapped_column(BigInteger)
    refunds_cents: Mapped[int] = mapped_column(BigInteger)
    tips_cents: Mapped[int] = mapped_column(BigInteger)


class SyncCursor(Base):
    """How far the financial sync has read a tenant's transactions (ids are increasing)."""

    __tablename__ = "carwash_sync_cursors"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("carwash_tenants.id"), primary_key=True)
    last_transaction_id: Mapped[int] = mapped_column(Id, default=0)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = [
    "DELIVERY_STATES",
    "Base",
    "Campaign",
    "CreditEntry",
    "CreditGrant",
    "Customer",
    "DailySummary",
    "Delivery",
    "Employee",
    "SyncCursor",
    "Tenant",
    "Transaction",
]
