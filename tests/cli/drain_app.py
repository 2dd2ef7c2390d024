"""An app whose one task holds a job while a test signals the process running it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel

from conveyor import Conveyor

app = Conveyor()
MARKS = Path(os.environ.get("DRAIN_MARKS", "."))


class Hold(BaseModel):
    seconds: float


@app.task(name="drain.hold")
async def hold(payload: Hold) -> str:
    """Writes ``started`` (once per run, so that a second run shows), waits, writes ``done``."""
    with (MARKS / "started").open("a") as marks:
        marks.write("x")
    await asyncio.sleep(payload.seconds)
    with (MARKS / "done").open("a") as marks:
        marks.write("x")
    return "held"
