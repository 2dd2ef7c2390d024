"""The car-wash app as a worker subprocess loads it in the kill tests, with the test seams
pausing after each chunk and writing the chunk reached to ``CARWASH_TEST_MARKER``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from carwash import credits, finance
from carwash.app import build_app
from carwash.config import CarwashConfig

app = build_app(config=CarwashConfig(run_mail_sink=False, sync_chunk_size=500))
PAUSE = float(os.environ.get("CARWASH_TEST_PAUSE", "0"))
MARKER = os.environ.get("CARWASH_TEST_MARKER")


async def _after_chunk(position: int) -> None:
    if MARKER:
        Path(MARKER).write_text(str(position))
    await asyncio.sleep(PAUSE)


credits.chunk_hook = _after_chunk
finance.chunk_hook = _after_chunk
