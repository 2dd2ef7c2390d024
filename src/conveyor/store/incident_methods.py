"""The alert-incident methods of the Store, written once for both dialects."""

from __future__ import annotations

from datetime import datetime, timedelta

from conveyor.store.incident import IncidentOccurrence
from conveyor.store.runner import QueryRunner


class IncidentMethods(QueryRunner):
    """``IncidentStore`` over the dialect's named queries: one conditional write each, so
    that exactly one process sends each message."""

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

    async def list_incidents(self) -> list[tuple[str, str]]:
        rows = await self._db.read("list_incidents", {})
        return [(str(r["rule"]), str(r["subject"])) for r in rows]
