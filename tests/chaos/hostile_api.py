"""The whole HTTP surface a deployment serves (the engine's API, the car-wash routes, and a
task with loosely typed fields), on a database with both schemas, for hostile clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from carwash.app import build_app
from carwash.config import CarwashConfig
from carwash.schema import migrate as migrate_domain
from conveyor import Conveyor
from conveyor.api import create_api
from conveyor.store.factory import open_store


class Anything(BaseModel):
    """A payload as loose as users write them: any JSON, and a float."""

    data: Any = None
    amount: float = 0.0


async def anything(payload: Anything) -> None:
    """Accepts anything (the hostile requests aim at the enqueue path)."""


def build_conveyor(url: str | None = None, data_dir: Path | None = None) -> Conveyor:
    extra: dict[str, Any] = {"data_dir": data_dir} if data_dir is not None else {}
    app = build_app(url, config=CarwashConfig(run_mail_sink=False), api_token=None, **extra)
    app.task(name="chaos.anything")(anything)
    return app


def build(url: str, data_dir: Path) -> tuple[Conveyor, FastAPI]:
    app = build_conveyor(url, data_dir)
    return app, create_api(app)


app = build_conveyor()
"""What ``conveyor --app tests.chaos.hostile_api:app api`` serves (database from the
environment), for requests that may block a server: its process can be killed."""


async def migrate_all(url: str) -> None:
    store = await open_store(url, migrate=True)
    await store.close()
    await asyncio.to_thread(migrate_domain, url)
