"""QueueInfo: one queue as an operator sees it — paused or not, and how much work it holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

QUEUE_COUNTED_STATES = ("available", "scheduled", "running", "retrying", "failed")
"""The states ``QueueInfo`` counts: the work a queue still holds, and its dead letters."""


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue exists while jobs name it, or once an operator paused it.

    A paused queue still accepts jobs; workers claim none of them until it is resumed
    (jobs already running finish normally). ``paused_at`` is set iff ``paused``.
    ``oldest_waiting_age`` is how long the longest-waiting due job has waited (``None``
    when no job is due), measured at the ``now`` the listing was made with.
    """

    name: str
    paused: bool
    paused_at: datetime | None
    available: int
    scheduled: int
    running: int
    retrying: int
    failed: int
    oldest_waiting_age: timedelta | None

    @classmethod
    def empty(cls, name: str) -> QueueInfo:
        """A queue that holds nothing and was never paused (e.g. declared by a task)."""
        return cls(name, False, None, 0, 0, 0, 0, 0, None)

    def to_json(self) -> dict[str, Any]:
        """The queue for the API and the CLI's ``--json``."""
        age = self.oldest_waiting_age
        return {
            "name": self.name,
            "paused": self.paused,
            "paused_at": None if self.paused_at is None else self.paused_at.isoformat(),
            "counts": {state: getattr(self, state) for state in QUEUE_COUNTED_STATES},
            "oldest_waiting_seconds": None if age is None else age.total_seconds(),
        }
