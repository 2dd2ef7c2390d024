"""Alert incidents: one sender for each alert, digest and resolution, by conditional writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from conveyor.store.base import Store

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def incidents(store: Store) -> Store:
    return store


async def test_the_first_occurrence_opens_and_later_ones_fold(store: Store) -> None:
    s = incidents(store)
    first = await s.occur_incident(rule="failed", subject="wash", now=T0, window=WINDOW)
    assert first.claim == "open"
    for n in range(1, 5):
        seen = await s.occur_incident(
            rule="failed", subject="wash", now=T0 + timedelta(seconds=n), window=WINDOW
        )
        assert (seen.claim, seen.folded) == ("folded", n)
    other = await s.occur_incident(rule="failed", subject="rinse", now=T0, window=WINDOW)
    assert other.claim == "open"  # another subject is another incident


async def test_an_occurrence_after_the_window_sends_the_digest(store: Store) -> None:
    s = incidents(store)
    await s.occur_incident(rule="failed", subject="wash", now=T0, window=WINDOW)
    await s.occur_incident(rule="failed", subject="wash", now=T0, window=WINDOW)
    later = T0 + WINDOW
    seen = await s.occur_incident(rule="failed", subject="wash", now=later, window=WINDOW)
    assert (seen.claim, seen.folded) == ("digest", 2)
    again = await s.occur_incident(rule="failed", subject="wash", now=later, window=WINDOW)
    assert (again.claim, again.folded) == ("folded", 1)


async def test_a_due_digest_goes_to_one_caller(store: Store) -> None:
    s = incidents(store)
    await s.occur_incident(rule="failed", subject="wash", now=T0, window=WINDOW)
    for _ in range(3):
        await s.occur_incident(rule="failed", subject="wash", now=T0, window=WINDOW)
    assert await s.flush_incident_digests(now=T0, window=WINDOW) == []
    results = await asyncio.gather(
        *(s.flush_incident_digests(now=T0 + WINDOW, window=WINDOW) for _ in range(4))
    )
    assert sorted(r for rows in results for r in rows) == [("failed", "wash", 3)]


async def test_resolving_closes_once_and_reopens(store: Store) -> None:
    s = incidents(store)
    assert not await s.resolve_incident(rule="failed", subject="wash")
    await s.occur_incident(rule="failed", subject="wash", now=T0, window=WINDOW)
    results = await asyncio.gather(
        *(s.resolve_incident(rule="failed", subject="wash") for _ in range(3))
    )
    assert sorted(results) == [False, False, True]
    again = await s.occur_incident(rule="failed", subject="wash", now=T0, window=WINDOW)
    assert again.claim == "open"


async def test_racing_first_occurrences_open_once(store: Store) -> None:
    s = incidents(store)
    seen = await asyncio.gather(
        *(s.occur_incident(rule="lag", subject="emails", now=T0, window=WINDOW) for _ in range(5))
    )
    assert sorted(o.claim for o in seen) == ["folded"] * 4 + ["open"]


async def test_open_incidents_are_listed_until_resolved(store: Store) -> None:
    assert await store.list_incidents() == []
    await store.occur_incident(rule="queue-lag", subject="emails", now=T0, window=WINDOW)
    await store.occur_incident(rule="job-failed", subject="wash", now=T0, window=WINDOW)
    await store.occur_incident(rule="job-failed", subject="wash", now=T0, window=WINDOW)
    assert await store.list_incidents() == [("job-failed", "wash"), ("queue-lag", "emails")]
    await store.resolve_incident(rule="queue-lag", subject="emails")
    assert await store.list_incidents() == [("job-failed", "wash")]
