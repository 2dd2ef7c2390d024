"""Conveyor: a durable background job system for Python on SQLite or PostgreSQL."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.batch import BatchDone
    from conveyor.context import JobContext
    from conveyor.errors import (
        BatchNotFound,
        ConfigurationError,
        ConveyorError,
        Discard,
        InvalidArgument,
        InvalidTransition,
        JobNotFound,
        LeaseLost,
        MigrationRequired,
        PayloadInvalid,
        Retry,
        StoreError,
        StoreUnavailable,
        TaskNotFound,
    )
    from conveyor.job import FINAL_STATES, Job, JobError, JobState, Progress
    from conveyor.page import DashboardPage, PageContext
    from conveyor.queue import QueueInfo
    from conveyor.retry import RetryPolicy
    from conveyor.task import Task

# Each public name and the module that defines it. The names are imported on first use:
# importing a submodule (``conveyor.cli.main`` for the ``conveyor`` command) runs this
# file first, and the app's modules with pydantic behind them are most of a process's
# start-up, which a command that never loads an app (``--help``) should not pay, and
# which ``conveyor worker`` pays only once it is ready to (see ``conveyor.cli.startup``).
_ORIGINS = {
    "Conveyor": "conveyor.app",
    "BatchDone": "conveyor.batch",
    "JobContext": "conveyor.context",
    **dict.fromkeys(
        [
            "BatchNotFound",
            "ConfigurationError",
            "ConveyorError",
            "Discard",
            "InvalidArgument",
            "InvalidTransition",
            "JobNotFound",
            "LeaseLost",
            "MigrationRequired",
            "PayloadInvalid",
            "Retry",
            "StoreError",
            "StoreUnavailable",
            "TaskNotFound",
        ],
        "conveyor.errors",
    ),
    **dict.fromkeys(["FINAL_STATES", "Job", "JobError", "JobState", "Progress"], "conveyor.job"),
    **dict.fromkeys(["DashboardPage", "PageContext"], "conveyor.page"),
    "QueueInfo": "conveyor.queue",
    "RetryPolicy": "conveyor.retry",
    "Task": "conveyor.task",
}


def __getattr__(name: str) -> Any:
    origin = _ORIGINS.get(name)
    if origin is None:
        raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
    value = getattr(importlib.import_module(origin), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "FINAL_STATES",
    "BatchDone",
    "BatchNotFound",
    "ConfigurationError",
    "Conveyor",
    "ConveyorError",
    "DashboardPage",
    "Discard",
    "InvalidArgument",
    "InvalidTransition",
    "Job",
    "JobContext",
    "JobError",
    "JobNotFound",
    "JobState",
    "LeaseLost",
    "MigrationRequired",
    "PageContext",
    "PayloadInvalid",
    "Progress",
    "QueueInfo",
    "Retry",
    "RetryPolicy",
    "StoreError",
    "StoreUnavailable",
    "Task",
    "TaskNotFound",
]
