"""The ConveyorError hierarchy: every error Conveyor raises on purpose, with structured fields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class ConveyorError(Exception):
    """A Conveyor operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (type(self).__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigurationError(ConveyorError):
    """Conveyor is configured wrongly."""


class InvalidArgument(ConveyorError):
    """An argument is out of range or contradicts another."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class ScheduleInvalid(InvalidArgument, ConfigurationError):
    """A schedule's definition is invalid (a bad cron expression, an unknown time zone).

    Both an ``InvalidArgument`` naming the field (HTTP 422) and a ``ConfigurationError``
    (what a schedule declared in code raises at import time)."""


class TaskNotFound(ConveyorError):
    """No task is registered under this name."""

    def __init__(self, task: str, known: Iterable[str] = ()) -> None:
        self.task = task
        self.known = sorted(known)
        listing = ", ".join(self.known) if self.known else "none registered"
        super().__init__(f"unknown task {task!r}; known tasks: {listing}")


class PayloadInvalid(ConveyorError):
    """The payload does not validate against the task's model."""

    def __init__(self, task: str, errors: Sequence[dict[str, Any]]) -> None:
        self.task = task
        self.errors = list(errors)
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or '(root)'}: {e.get('msg', '')}"
            for e in self.errors
        )
        super().__init__(f"invalid payload for task {task!r}: {where}")


class JobNotFound(ConveyorError):
    """No job has this id."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} does not exist")


class BatchNotFound(ConveyorError):
    """No batch has this id."""

    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        super().__init__(f"batch {batch_id} does not exist")


class ScheduleNotFound(ConveyorError):
    """No schedule has this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"schedule {name!r} does not exist")


class ScheduleExists(ConveyorError):
    """A schedule with this name exists already."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a schedule named {name!r} exists already")


class ScheduleDeclaredInCode(ConveyorError):
    """This schedule is declared in code: change it there (pause, resume and trigger work)."""

    def __init__(self, name: str, action: str) -> None:
        self.name = name
        self.action = action
        super().__init__(
            f"cannot {action} schedule {name!r}: it is declared in code, change it there"
        )


class InvalidTransition(ConveyorError):
    """The job's state does not allow this action."""

    def __init__(self, job_id: int, state: str, action: str) -> None:
        self.job_id = job_id
        self.state = state
        self.action = action
        super().__init__(f"cannot {action} job {job_id}: it is {state}")


class LeaseLost(ConveyorError):
    """The worker no longer holds the job's lease; its write was rejected."""

    def __init__(self, job_id: int, token: str) -> None:
        self.job_id = job_id
        self.token = token
        super().__init__(f"lease {token} on job {job_id} is no longer held")


class StoreError(ConveyorError):
    """The job store failed to carry out an operation."""


class StoreUnavailable(StoreError):
    """The job store cannot be reached."""


class MigrationRequired(ConveyorError):
    """The database schema is not at the version this Conveyor expects."""

    def __init__(self, current: int, expected: int) -> None:
        self.current = current
        self.expected = expected
        super().__init__(
            f"database schema is at version {current}, expected {expected}: run `conveyor migrate`"
        )


class Retry(Exception):
    """Raised by a handler to reschedule its job; the attempt counts."""

    def __init__(self, delay: float | None = None, reason: str = "retry requested") -> None:
        self.delay = delay
        self.reason = reason
        super().__init__(reason)


class Discard(Exception):
    """Raised by a handler to fail its job for good, without further retries."""

    def __init__(self, reason: str = "discarded") -> None:
        self.reason = reason
        super().__init__(reason)
