"""The car-wash platform's Conveyor app: its task types, its tables, its HTTP routes.

``app`` is what ``conveyor`` loads by default (``CONVEYOR_APP=carwash.app:app``);
``build_app(url)`` builds another one on another database (tests do).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from carwash import campaign_page, campaigns, credits, employees, finance, schema
from carwash.config import CarwashConfig
from carwash.db import Database
from conveyor import Conveyor, JobContext


class WashReceipt(BaseModel):
    """A receipt for one wash, mailed to the customer after it."""

    customer_email: EmailStr
    customer_name: str = Field(min_length=1, max_length=200)
    wash: str = Field(min_length=1, max_length=100)
    amount_cents: int = Field(ge=0)


def build_app(
    database_url: str | None = None,
    *,
    config: CarwashConfig | None = None,
    **settings: Any,
) -> Conveyor:
    """The car-wash app on ``database_url`` (default: ``CONVEYOR_DATABASE_URL``)."""
    config = config or CarwashConfig()
    app = Conveyor(database_url, **settings)
    db = Database(app.settings.resolved_database_url)
    app.add_migration(schema.migrate)

    @app.task(name="receipts.send", queue="email", max_attempts=5, timeout=30)
    async def send_receipt(payload: WashReceipt, ctx: JobContext) -> dict[str, str]:
        """Render the receipt for one wash."""
        body = (
            f"Hello {payload.customer_name},\n\n"
            f"thank you for choosing our {payload.wash} wash. "
            f"Amount paid: ${payload.amount_cents / 100:.2f}.\n"
        )
        ctx.logger.info("receipt rendered for %s", payload.customer_email)
        return {"to": str(payload.customer_email), "body": body}

    campaigns.EmailTasks(app, db, config)
    credits.register(app, db)
    finance.register(app, db, config)
    files = employees.register(app, db, config)

    def api_routes() -> Any:
        from carwash import routes  # FastAPI is imported by `conveyor serve` only

        return routes.router(app, db, files, config)

    app.add_api_router(api_routes)
    app.add_dashboard_page("/campaigns", "Campaigns", campaign_page.campaigns_page(app, db))
    run_sink = config.run_mail_sink
    if run_sink if run_sink is not None else not (config.smtp_url or app.settings.smtp_url):
        app.add_service(mail_sink)
    return app


def mail_sink(app: Conveyor) -> AbstractAsyncContextManager[None]:
    """The demo's SMTP sink (aiosmtpd is imported only when ``conveyor serve`` starts it)."""
    from carwash.mailsink import mail_sink_service

    return mail_sink_service(app)


app = build_app()
