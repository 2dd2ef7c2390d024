"""An app for the lazy-import test: its one task reports what its worker process imported."""

from __future__ import annotations

import gc
import sys
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor

UNNEEDED = frozenset(
    {
        # The HTTP API and the dashboard (`conveyor serve`, `conveyor api`).
        "fastapi",
        "starlette",
        "uvicorn",
        "multipart",
        "jinja2",
        # Metrics: `/metrics` of the API, or `conveyor worker --metrics-port`.
        "prometheus_client",
        # Alert delivery, imported only to send one.
        "httpx",
        "aiosmtplib",
        # Tables and bars of the other commands; a worker prints one plain line.
        "rich",
        # Process tasks only.
        "multiprocessing",
    }
)
"""Top-level packages a worker running plain async tasks never needs."""


class Nothing(BaseModel):
    pass


async def report(payload: Nothing) -> dict[str, Any]:
    loaded = {name.split(".")[0] for name in sys.modules}
    return {"unneeded": sorted(loaded & UNNEEDED), "gc_enabled": gc.isenabled()}


def build(database_url: str | None = None) -> Conveyor:
    """The app with its task; the subprocess imports ``app``, the test builds one per database."""
    conveyor = Conveyor(database_url)
    conveyor.task(name="modules.report", queue="modules")(report)
    return conveyor


app = build()
