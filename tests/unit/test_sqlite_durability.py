"""The SQLite store syncs enqueues to disk (synchronous=FULL) and relaxes only the lease
lifecycle (claim, ack, heartbeat, release) to synchronous=NORMAL, for its own commit."""

from __future__ import annotations

from pathlib import Path

from conveyor.store.sqlite.store import SqliteStore
from tests.store.helpers import NOW, TTL, claim, complete, insert_many

FULL, NORMAL = 2, 1


async def test_lifecycle_writes_leave_the_connection_syncing_every_commit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        await store.migrate()
        levels: list[int] = []

        def level() -> int:
            return int(store._sqlite.connection().execute("PRAGMA synchronous").fetchone()[0])

        def seen_inside_write(conn: object) -> None:
            levels.append(level())

        await insert_many(store, 3)
        levels.append(level())
        jobs = await claim(store)
        levels.append(level())
        await store.extend_leases(leases=[j.lease for j in jobs if j.lease], ttl=TTL, now=NOW)
        levels.append(level())
        outcome = await store.ack_jobs(acks=[complete(jobs[0])], now=NOW)
        levels.append(level())
        await store.release_jobs(leases=[j.lease for j in jobs[1:] if j.lease], now=NOW)
        levels.append(level())
        await store._sqlite.run_write(seen_inside_write, durable=False)
        await store._sqlite.run_write(seen_inside_write)

        assert outcome.acked == [jobs[0].id]
        # After every write, whatever kind: FULL, so the next enqueue is synced.
        assert levels[:5] == [FULL] * 5
        # Inside: NORMAL only for a lifecycle write.
        assert levels[5:] == [NORMAL, FULL]
    finally:
        await store.close()
