"""The server-rendered web dashboard over one Conveyor app."""

from __future__ import annotations

from conveyor.dashboard.routes import dashboard_router

__all__ = ["dashboard_router"]
