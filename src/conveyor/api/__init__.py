"""The HTTP API: one POST endpoint per task, admin endpoints, health; FastAPI."""

from __future__ import annotations

from conveyor.api.app import create_api
from conveyor.api.auth import Principal, require_admin, require_reader

__all__ = ["Principal", "create_api", "require_admin", "require_reader"]
