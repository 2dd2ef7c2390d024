"""An app for the log-format CLI test: a task that logs through a plain module logger."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor

log = logging.getLogger("tests.logging_app")


class Note(BaseModel):
    text: str


async def note(payload: Note) -> None:
    log.info("noting %s", payload.text)


def build(database_url: str | None = None, **settings: Any) -> Conveyor:
    """The app with its task; the subprocess imports ``app``, the test builds one per database."""
    conveyor = Conveyor(database_url, **settings)
    conveyor.task(name="log.note", queue="notes")(note)
    return conveyor


app = build()
