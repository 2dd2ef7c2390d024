"""The worker registry: register, heartbeat, stop, dead-worker detection, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.store.base import Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def register(store: Store, worker_id: str, now: datetime = NOW) -> None:
    await store.register_worker(
        worker_id=worker_id, host="box", pid=42, queues=["email"], concurrency=8, now=now
    )


async def test_registered_worker_is_listed_with_its_details(store: Store) -> None:
    await register(store, "w1")
    [worker] = await store.list_workers()
    assert (worker.id, worker.host, worker.pid, worker.queues) == ("w1", "box", 42, ["email"])
    assert worker.concurrency == 8 and worker.state == "running"
    assert worker.started_at == NOW and worker.last_heartbeat_at == NOW


async def test_heartbeat_records_vital_signs(store: Store) -> None:
    await register(store, "w1")
    later = NOW + timedelta(seconds=10)
    await store.heartbeat_worker(
        worker_id="w1", executors=3, running=2, completed=99, state="running", now=later
    )
    [worker] = await store.list_workers()
    assert (worker.executors, worker.running, worker.completed) == (3, 2, 99)
    assert worker.last_heartbeat_at == later and worker.stopped_at is None


async def test_clean_stop_is_recorded_as_stopped(store: Store) -> None:
    await register(store, "w1")
    await store.heartbeat_worker(
        worker_id="w1", executors=0, running=0, completed=5, state="stopped", now=NOW
    )
    [worker] = await store.list_workers()
    assert worker.state == "stopped" and worker.stopped_at == NOW


async def test_silent_workers_are_marked_dead_and_live_ones_are_not(store: Store) -> None:
    await register(store, "silent", now=NOW)
    await register(store, "alive", now=NOW + timedelta(minutes=5))
    dead = await store.mark_dead_workers(before=NOW + timedelta(minutes=1), now=NOW)
    assert dead == ["silent"]
    states = {w.id: w.state for w in await store.list_workers()}
    assert states == {"silent": "dead", "alive": "running"}
    assert await store.mark_dead_workers(before=NOW + timedelta(minutes=1), now=NOW) == []


async def test_a_worker_marked_dead_that_heartbeats_again_is_running(store: Store) -> None:
    await register(store, "w1")
    await store.mark_dead_workers(before=NOW + timedelta(minutes=1), now=NOW)
    await store.heartbeat_worker(
        worker_id="w1", executors=1, running=0, completed=0, state="running", now=NOW
    )
    [worker] = await store.list_workers()
    assert worker.state == "running" and worker.stopped_at is None


async def test_prune_forgets_only_old_stopped_and_dead_workers(store: Store) -> None:
    await register(store, "dead")
    await register(store, "live")
    await store.mark_dead_workers(before=NOW + timedelta(seconds=1), now=NOW)
    await store.heartbeat_worker(
        worker_id="live", executors=1, running=0, completed=0, state="running", now=NOW
    )
    assert await store.prune_workers(before=NOW + timedelta(days=1)) == 1
    assert [w.id for w in await store.list_workers()] == ["live"]
