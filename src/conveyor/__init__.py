"""Conveyor: a durable background job system for Python on SQLite or PostgreSQL."""

from __future__ import annotations

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
