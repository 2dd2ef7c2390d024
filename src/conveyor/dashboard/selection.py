"""The set of jobs a ``/jobs`` URL selects: its filters read from the query string, and
the bulk retry and cancel that walk that set in bounded batches.

A bulk action never runs one statement over the whole set: it reads the set a keyset
page at a time (newest first) and changes each page's jobs in one short statement, so no
lock is held for long and workers keep claiming meanwhile. It stops at ``BULK_LIMIT``
jobs and at the newest id the confirmation counted, so it touches what the operator was
shown, not jobs that arrived since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from conveyor.app import Conveyor
from conveyor.job import FINAL_STATES, Job, JobState, Page

BULK_BATCH = 500
BULK_LIMIT = 10_000
ACTIONS: Mapping[str, frozenset[JobState]] = {
    "retry": frozenset({JobState.FAILED, JobState.CANCELLED}),
    "cancel": frozenset(set(JobState) - FINAL_STATES),
}
"""Each bulk action and the states of the jobs it can change."""


class BadFilter(ValueError):
    """A filter value that cannot be read (shown to the user, never a 500)."""


@dataclass(frozen=True, slots=True)
class JobQuery:
    """The filters of a ``/jobs`` URL; empty means any."""

    state: str = ""
    task: str = ""
    queue: str = ""
    search: str = ""
    created_from: str = ""
    created_to: str = ""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> JobQuery:
        fields = {f: params.get(f, "").strip()[:255] for f in cls.__dataclass_fields__}
        return cls(**fields)

    def with_state(self, state: str) -> JobQuery:
        return replace(self, state=state)

    def query_string(self, **extra: str | int | None) -> str:
        """This query as URL parameters (empty filters left out), with ``extra`` added."""
        pairs: dict[str, Any] = {f: getattr(self, f) for f in self.__dataclass_fields__}
        pairs.update(extra)
        return urlencode({k: v for k, v in pairs.items() if v not in ("", None)})

    def states(self) -> list[JobState] | None:
        if not self.state:
            return None
        try:
            return [JobState(self.state)]
        except ValueError:
            raise BadFilter(f"unknown state {self.state!r}") from None

    def list_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``Conveyor.list_jobs``. A search that is a number looks
        for that id; any other search looks for that idempotency key."""
        arguments: dict[str, Any] = {
            "state": self.states(),
            "task": self.task or None,
            "queue": self.queue or None,
            "created_after": _moment("from", self.created_from),
            "created_before": _moment("to", self.created_to),
        }
        if self.search.isdigit() and int(self.search) < 2**63:
            arguments["ids"] = [int(self.search)]
        elif self.search:
            arguments["idempotency_key"] = self.search
        return arguments


async def list_page(app: Conveyor, query: JobQuery, *, after: int | None, limit: int) -> Page:
    return await app.list_jobs(**query.list_arguments(), after=after, limit=limit)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a bulk action would touch: ``count`` jobs (at most ``BULK_LIMIT``; ``more``
    when the set goes on), the newest of them ``newest_id``."""

    count: int
    newest_id: int | None
    more: bool


async def measure(app: Conveyor, query: JobQuery, action: str) -> Scope:
    """Count, a page at a time and never past ``BULK_LIMIT``, the jobs ``action`` would
    change in the set ``query`` selects."""
    arguments = _action_arguments(query, action)
    if arguments is None:
        return Scope(0, None, more=False)
    count, newest, after = 0, None, None
    while count < BULK_LIMIT:
        page = await app.list_jobs(
            **arguments, after=after, limit=min(BULK_BATCH * 2, BULK_LIMIT - count)
        )
        if page.jobs and newest is None:
            newest = page.jobs[0].id
        count += len(page.jobs)
        if page.next_after is None:
            return Scope(count, newest, more=False)
        after = page.next_after
    probe = await app.list_jobs(**arguments, after=after, limit=1)
    return Scope(count, newest, more=bool(probe.jobs))


async def apply(app: Conveyor, query: JobQuery, action: str, *, newest_id: int) -> int:
    """Run ``action`` over the set ``query`` selects, from job ``newest_id`` down, in
    batches of ``BULK_BATCH``; returns how many jobs it changed."""
    arguments = _action_arguments(query, action)
    if arguments is None:
        return 0
    change = app.retry_many if action == "retry" else app.cancel_many
    changed, seen, after = 0, 0, newest_id + 1
    while seen < BULK_LIMIT:
        page = await app.list_jobs(
            **arguments, after=after, limit=min(BULK_BATCH, BULK_LIMIT - seen)
        )
        if not page.jobs:
            break
        seen += len(page.jobs)
        changed += len(await change(_ids(page.jobs)))
        if page.next_after is None:
            break
        after = page.next_after
    return changed


def _action_arguments(query: JobQuery, action: str) -> dict[str, Any] | None:
    """``query``'s list arguments narrowed to the states ``action`` can change, or
    ``None`` when it can change none of them."""
    if action not in ACTIONS:
        raise BadFilter(f"unknown action {action!r}")
    arguments = query.list_arguments()
    wanted = arguments["state"] or list(JobState)
    states = sorted(s for s in wanted if s in ACTIONS[action])
    if not states:
        return None
    arguments["state"] = states
    return arguments


def _ids(jobs: list[Job]) -> list[int]:
    return [job.id for job in jobs]


def _moment(name: str, text: str) -> datetime | None:
    """A ``datetime-local`` input (or an ISO moment), read as UTC when it names no zone."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"created {name}: {text!r} is not a date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
