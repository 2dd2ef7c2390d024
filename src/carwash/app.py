"""The car-wash platform's Conveyor app and its task types."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field

from conveyor import Conveyor, JobContext

app = Conveyor()


class WashReceipt(BaseModel):
    """A receipt for one wash, mailed to the customer after it."""

    customer_email: EmailStr
    customer_name: str = Field(min_length=1, max_length=200)
    wash: str = Field(min_length=1, max_length=100)
    amount_cents: int = Field(ge=0)


@app.task(name="receipts.send", queue="email", max_attempts=5, timeout=30)
async def send_receipt(payload: WashReceipt, ctx: JobContext) -> dict[str, str]:
    """Render the receipt for one wash. Delivery over SMTP arrives with the email workload."""
    body = (
        f"Hello {payload.customer_name},\n\n"
        f"thank you for choosing our {payload.wash} wash. "
        f"Amount paid: ${payload.amount_cents / 100:.2f}.\n"
    )
    ctx.logger.info("receipt rendered for %s", payload.customer_email)
    return {"to": str(payload.customer_email), "body": body}
