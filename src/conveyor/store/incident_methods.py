"""The alert-incident methods of the Store, written once for both dialects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from conveyor.store.runner import QueryRunner

IncidentClaim = Literal["open", "folded", "digest"]


@dataclass(frozen=True)
class IncidentOccurrence:
    """What one occurrence means for its incident, as the store decided for the cluster:
    ``open`` (send the alert), ``folded`` (send nothing), ``digest`` (send a digest of
    ``folded`` occurrences)."""

    claim: IncidentClaim
    folded: int


class IncidentMethods(QueryRunner):
    """``occur_incident``, ``flush_incident_digests`` and ``resolve_incident``: one
    conditional write each, so that exactly one process sends each message."""

    async def occur_incident(
        self, *, rule: str, subject: str, now: datetime, window: timedelta
    ) -> IncidentOccurrence:
        params = {
            "rule": rule,
            "subject": subject,
            "now": now.timestamp(),
            "window": window.total_seconds(),
        }
        (row,) = await self._db.write("occur_incident", params)
        claim = row["last_claim"]
        if claim == "open":
            return IncidentOccurrence("open", 0)
        if claim == "digest":
            return IncidentOccurrence("digest", int(row["digested"]))
        return IncidentOccurrence("folded", int(row["folded"]))

    async def flush_incident_digests(
        self, *, now: datetime, window: timedelta
    ) -> list[tuple[str, str, int]]:
        params = {"now": now.timestamp(), "window": window.total_seconds()}
        rows = await self._db.write("flush_incident_digests", params)
        return [(r["rule"], r["subject"], int(r["digested"])) for r in rows]

    async def resolve_incident(self, *, rule: str, subject: str) -> bool:
        rows = await self._db.write("resolve_incident", {"rule": rule, "subject": subject})
        return bool(rows)
