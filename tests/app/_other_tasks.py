"""A second module whose handler shares its bare name with one in test_task.py."""

from __future__ import annotations

import pydantic


class Receipt(pydantic.BaseModel):
    customer_id: int


async def send_receipt(payload: Receipt) -> None:
    """Same bare name as tests.app.test_task.send_receipt, different module."""
