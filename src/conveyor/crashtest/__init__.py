"""Crash tests for handlers: prove a task is safe to kill and retry (``crashtest``)."""

from __future__ import annotations

from conveyor.crashtest.harness import CrashReport, CrashRun, KillPoint, crashtest
from conveyor.crashtest.points import PointKind

__all__ = ["CrashReport", "CrashRun", "KillPoint", "PointKind", "crashtest"]
