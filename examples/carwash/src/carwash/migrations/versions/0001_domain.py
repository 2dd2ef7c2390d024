"""The car-wash domain: tenants, customers, credits, campaigns, employees, finance.

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "carwash_tenants",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("email_rate_per_second", sa.Float(), nullable=True),
    )
    op.create_table(
        "carwash_customers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("tenant_id", Id, sa.ForeignKey("carwash_tenants.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("marketing_opt_in", sa.Boolean(), nullable=False),
        sa.Column("last_wash_at", Stamp, nullable=True),
        sa.UniqueConstraint("tenant_id", "email"),
    )
    op.create_index("ix_carwash_customers_tenant_id", "carwash_customers", ["tenant_id"])
    op.create_table(
        "carwash_credit_grants",
        sa.Column("id", Id, primary_key=True),
        sa.Column("tenant_id", Id, sa.ForeignKey("carwash_tenants.id"), nullable=False),
        sa.Column("job_id", Id, nullable=False, unique=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("customer_count", sa.Integer(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )
    op.create_table(
        "carwash_credit_ledger",
        sa.Column("id", Id, primary_key=True),
        sa.Column("grant_id", Id, sa.ForeignKey("carwash_credit_grants.id"), nullable=False),
        sa.Column("customer_id", Id, sa.ForeignKey("carwash_customers.id"), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.UniqueConstraint("grant_id", "customer_id"),
    )
    op.create_index(
        "ix_carwash_credit_ledger_customer_id", "carwash_credit_ledger", ["customer_id"]
    )
    op.create_table(
        "carwash_email_campaigns",
        sa.Column("id", Id, primary_key=True),
        sa.Column("tenant_id", Id, sa.ForeignKey("carwash_tenants.id"), nullable=False),
        sa.Column("job_id", Id, nullable=False, unique=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body_template", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("bounced", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp, nullable=True),
    )
    op.create_table(
        "carwash_email_deliveries",
        sa.Column("id", Id, primary_key=True),
        sa.Column("campaign_id", Id, sa.ForeignKey("carwash_email_campaigns.id"), nullable=False),
        sa.Column("customer_id", Id, sa.ForeignKey("carwash_customers.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished_at", Stamp, nullable=True),
        sa.UniqueConstraint("campaign_id", "customer_id"),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'skipped', 'bounced', 'failed')",
            name="state_known",
        ),
    )
    op.create_index(
        "ix_carwash_email_deliveries_campaign_state",
        "carwash_email_deliveries",
        ["campaign_id", "state"],
    )
    op.create_table(
        "carwash_employees",
        sa.Column("id", Id, primary_key=True),
        sa.Column("tenant_id", Id, sa.ForeignKey("carwash_tenants.id"), nullable=False),
        sa.Column("employee_number", sa.String(50), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("hourly_wage_cents", sa.Integer(), nullable=True),
        sa.Column("hired_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("tenant_id", "employee_number"),
    )
    op.create_table(
        "carwash_transactions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("tenant_id", Id, sa.ForeignKey("carwash_tenants.id"), nullable=False),
        sa.Column("occurred_at", Stamp, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_carwash_transactions_tenant_id_id", "carwash_transactions", ["tenant_id", "id"]
    )
    op.create_table(
        "carwash_daily_summaries",
        sa.Column("tenant_id", Id, sa.ForeignKey("carwash_tenants.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.Column("sales_cents", sa.BigInteger(), nullable=False),
        sa.Column("refunds_cents", sa.BigInteger(), nullable=False),
        sa.Column("tips_cents", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "carwash_sync_cursors",
        sa.Column("tenant_id", Id, sa.ForeignKey("carwash_tenants.id"), primary_key=True),
        sa.Column("last_transaction_id", Id, nullable=False),
        sa.Column("synced_at", Stamp, nullable=True),
    )


def downgrade() -> None:
    for table in (
        "carwash_sync_cursors",
        "carwash_daily_summaries",
        "carwash_transactions",
        "carwash_employees",
        "carwash_email_deliveries",
        "carwash_email_campaigns",
        "carwash_credit_ledger",
        "carwash_credit_grants",
        "carwash_customers",
        "carwash_tenants",
    ):
        op.drop_table(table)
