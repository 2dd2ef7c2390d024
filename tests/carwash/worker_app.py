"""The car-wash app as a worker subprocess loads it in the kill tests, with the test seams
pausing after each chunk and writing the chunk reached to ``CARWASH_TEST_MARKER``; mail
goes to ``CONVEYOR_SMTP_URL`` (the test's sink), and chunks retry after a short backoff."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from carwash import credits, finance
from carwash.app import build_app
from carwash.config import CarwashConfig
from conveyor import RetryPolicy

app = build_app(
    config=CarwashConfig(
        run_mail_sink=False,
        sync_chunk_size=500,
        email_retry=RetryPolicy(
            base_delay=timedelta(milliseconds=100), max_delay=timedelta(seconds=1)
        ),
    )
)
PAUSE = float(os.environ.get("CARWASH_TEST_PAUSE", "0"))
MARKER = os.environ.get("CARWASH_TEST_MARKER")


async def _after_chunk(position: int) -> None:
    if MARKER:
        Path(MARKER).write_text(str(position))
    await asyncio.sleep(PAUSE)


credits.chunk_hook = _after_chunk
finance.chunk_hook = _after_chunk
