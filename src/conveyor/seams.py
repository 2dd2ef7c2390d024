"""AppSeam: the part of the app that its own services use (the scheduler, maintenance,
the schedule, job and batch administration), so that they depend on this interface and
not on ``Conveyor``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.clock import Clock
from conveyor.settings import Settings
from conveyor.store.base import Store

if TYPE_CHECKING:
    from conveyor.scheduler.definition import Declared
    from conveyor.task import Task


class AppSeam(Protocol):
    """The settings, clock, store, task registry and in-process wake-up of an app."""

    settings: Settings
    clock: Clock

    async def store(self) -> Store:
        """The opened (and, with ``auto_migrate``, migrated) store."""
        ...

    def get_task(self, name: str) -> Task[Any]:
        """The task registered as ``name`` (or uniquely by its function's name)."""
        ...

    def resolve_task(self, task: str | Task[Any]) -> Task[Any]:
        """``task`` itself, or the task registered under that name."""
        ...

    @property
    def tasks(self) -> Mapping[str, Task[Any]]: ...

    @property
    def declared_schedules(self) -> Mapping[str, Declared]: ...

    def wake_workers(self) -> None:
        """Tell this process's workers that new jobs are ready."""
        ...
