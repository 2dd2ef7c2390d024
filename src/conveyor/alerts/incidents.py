"""Incident claims: who sends an incident's alert, its digest and its resolution (once each)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from conveyor.store.incident import IncidentClaim, IncidentStore
from conveyor.store.incident import IncidentOccurrence as Occurrence

Claim = IncidentClaim
"""What an occurrence means for its incident: ``open`` (first: send the alert), ``folded``
(counted for the next digest; send nothing), ``digest`` (the window passed: send a digest of
``folded`` occurrences)."""

__all__ = ["Claim", "IncidentClaims", "MemoryIncidents", "Occurrence", "StoreIncidents"]


class IncidentClaims(Protocol):
    """Decides, across every process, who sends. The store implementation claims a row of
    an incidents table keyed by (rule, subject) with a conditional insert/update."""

    async def occur(
        self, rule: str, subject: str, now: datetime, window: timedelta
    ) -> Occurrence: ...

    async def flush_digests(self, now: datetime, window: timedelta) -> list[tuple[str, str, int]]:
        """Incidents whose window passed with folded occurrences: (rule, subject, folded),
        each handed to one caller."""
        ...

    async def resolve(self, rule: str, subject: str) -> bool:
        """Close the incident; True for the one caller that closed it (it sends 'resolved')."""
        ...

    async def open_incidents(self) -> list[tuple[str, str]]:
        """The incidents open now, as (rule, subject)."""
        ...


class StoreIncidents:
    """Incident claims in the store's incidents table: one sender per message cluster-wide."""

    def __init__(self, store: IncidentStore) -> None:
        self.store = store

    async def occur(self, rule: str, subject: str, now: datetime, window: timedelta) -> Occurrence:
        return await self.store.occur_incident(rule=rule, subject=subject, now=now, window=window)

    async def flush_digests(self, now: datetime, window: timedelta) -> list[tuple[str, str, int]]:
        return await self.store.flush_incident_digests(now=now, window=window)

    async def resolve(self, rule: str, subject: str) -> bool:
        return await self.store.resolve_incident(rule=rule, subject=subject)

    async def open_incidents(self) -> list[tuple[str, str]]:
        return await self.store.list_incidents()


@dataclass
class _Open:
    last_sent: datetime
    folded: int


class MemoryIncidents:
    """Incident claims within one process (tests, and a single process without a store)."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], _Open] = {}
        self._lock = asyncio.Lock()

    async def occur(self, rule: str, subject: str, now: datetime, window: timedelta) -> Occurrence:
        async with self._lock:
            key = (rule, subject)
            state = self._open.get(key)
            if state is None:
                self._open[key] = _Open(now, 0)
                return Occurrence("open", 0)
            state.folded += 1
            if now - state.last_sent < window:
                return Occurrence("folded", state.folded)
            folded, state.folded, state.last_sent = state.folded, 0, now
            return Occurrence("digest", folded)

    async def flush_digests(self, now: datetime, window: timedelta) -> list[tuple[str, str, int]]:
        """Incidents whose window passed with folded occurrences: (rule, subject, folded)."""
        async with self._lock:
            due: list[tuple[str, str, int]] = []
            for (rule, subject), state in self._open.items():
                if state.folded and now - state.last_sent >= window:
                    due.append((rule, subject, state.folded))
                    state.folded, state.last_sent = 0, now
            return due

    async def resolve(self, rule: str, subject: str) -> bool:
        async with self._lock:
            return self._open.pop((rule, subject), None) is not None

    async def open_incidents(self) -> list[tuple[str, str]]:
        async with self._lock:
            return sorted(self._open)
