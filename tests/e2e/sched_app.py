"""An app with one fast interval schedule; scheduler subprocesses load it with --app."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from conveyor import Conveyor

EVERY = timedelta(milliseconds=500)


class Tick(BaseModel):
    label: str = "tick"


async def tick(payload: Tick) -> str:
    return payload.label


def build(database_url: str | None = None) -> Conveyor:
    conveyor = Conveyor(database_url)
    conveyor.task(name="e2e.tick")(tick)
    # catch_up="all": a cycle that comes late (a loaded machine) still owes every fire,
    # so the test can demand every fire time between the first and the last.
    conveyor.schedule("e2e.tick", every=EVERY, run_immediately=True, catch_up="all")
    return conveyor


app = build()
