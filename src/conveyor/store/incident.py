"""The Store's alert-incident methods as a protocol, and what they return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

IncidentClaim = Literal["open", "folded", "digest"]


@dataclass(frozen=True)
class IncidentOccurrence:
    """What one occurrence means for its incident, as the store decided for the cluster:
    ``open`` (send the alert), ``folded`` (send nothing), ``digest`` (send a digest of
    ``folded`` occurrences)."""

    claim: IncidentClaim
    folded: int


class IncidentStore(Protocol):
    """One row per open incident, keyed by (rule, subject); each method is one conditional
    write (or read), so that exactly one process sends each message."""

    async def occur_incident(
        self, *, rule: str, subject: str, now: datetime, window: timedelta
    ) -> IncidentOccurrence: ...

    async def flush_incident_digests(
        self, *, now: datetime, window: timedelta
    ) -> list[tuple[str, str, int]]:
        """Incidents whose window passed with folded occurrences: (rule, subject, folded),
        each handed to one caller."""
        ...

    async def resolve_incident(self, *, rule: str, subject: str) -> bool:
        """Close the incident; True for the one caller that closed it."""
        ...

    async def list_incidents(self) -> list[tuple[str, str]]:
        """The open incidents, as (rule, subject) pairs."""
        ...
