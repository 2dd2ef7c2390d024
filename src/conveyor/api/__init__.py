"""The HTTP API: one POST endpoint per task, admin endpoints, health; FastAPI."""

from __future__ import annotations

from conveyor.api.app import create_api

__all__ = ["create_api"]
