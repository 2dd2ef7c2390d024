"""Conformance: stored schedules, and fires decided exactly once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from conveyor.errors import ScheduleExists, ScheduleNotFound
from conveyor.job import JobState
from conveyor.schedule import CatchUp, Fire, FireOutcome, ScheduleSpec
from conveyor.store.base import Store
from conveyor.store.factory import open_store
from tests.store.helpers import NOW, complete, new_job

CRON = ScheduleSpec(name="nightly", task="send_email", cron="0 2 * * *", timezone="UTC")
EVERY = ScheduleSpec(
    name="pulse", task="send_email", every=timedelta(seconds=5), anchor_at=NOW, source="code"
)


async def test_created_schedule_is_listed_with_its_definition(store: Store) -> None:
    spec = replace(
        CRON,
        payload={"to": "x@example.com"},
        queue="mail",
        priority=3,
        catch_up=CatchUp.ALL,
        allow_overlap=False,
        run_on_startup=True,
    )
    created = await store.create_schedule(spec=spec, now=NOW)

    assert created.spec == spec
    assert (created.paused, created.created_at, created.updated_at) == (False, NOW, NOW)
    assert [s.spec for s in await store.list_schedules()] == [spec]
    assert (await store.get_schedule(name="nightly")).spec == spec


async def test_create_with_a_taken_name_raises_and_keeps_the_first(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    with pytest.raises(ScheduleExists):
        await store.create_schedule(spec=replace(CRON, cron="5 5 * * *"), now=NOW)
    assert (await store.get_schedule(name="nightly")).spec.cron == "0 2 * * *"


async def test_unknown_schedule_raises_not_found(store: Store) -> None:
    with pytest.raises(ScheduleNotFound):
        await store.get_schedule(name="nope")
    with pytest.raises(ScheduleNotFound):
        await store.update_schedule(spec=CRON, now=NOW)
    with pytest.raises(ScheduleNotFound):
        await store.pause_schedule(name="nope", paused=True, now=NOW)


async def test_update_replaces_the_definition_and_moves_updated_at(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    later = NOW + timedelta(hours=1)
    updated = await store.update_schedule(spec=replace(CRON, cron="30 3 * * *"), now=later)
    assert updated.spec.cron == "30 3 * * *"
    assert (updated.created_at, updated.updated_at) == (NOW, later)


async def test_pause_and_resume_are_stored(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    paused = await store.pause_schedule(name="nightly", paused=True, now=NOW)
    assert paused.paused
    resumed = await store.pause_schedule(name="nightly", paused=False, now=NOW)
    assert not resumed.paused


async def test_save_keeps_state_and_moves_updated_at_only_when_the_rule_changes(
    store: Store,
) -> None:
    await store.save_schedules(specs=[EVERY], now=NOW)
    await store.pause_schedule(name="pulse", paused=True, now=NOW)
    later = NOW + timedelta(hours=1)

    moved = replace(EVERY, anchor_at=later, payload={"to": "new"})
    await store.save_schedules(specs=[moved], now=later)
    same_rule = await store.get_schedule(name="pulse")
    assert same_rule.paused, "the state survives a re-sync"
    assert same_rule.spec.payload == {"to": "new"}
    assert same_rule.spec.anchor_at == NOW, "the interval grid survives a re-sync"
    assert same_rule.updated_at == NOW, "a restart must not forget owed fires"

    await store.save_schedules(specs=[replace(moved, every=timedelta(seconds=9))], now=later)
    changed = await store.get_schedule(name="pulse")
    assert (changed.spec.anchor_at, changed.updated_at) == (later, later)


async def test_a_fire_is_recorded_once_and_enqueues_a_stamped_job(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    fire = Fire("nightly", NOW + timedelta(hours=2))

    first = await store.record_fire(fire=fire, job=new_job(), allow_overlap=True, now=NOW)
    second = await store.record_fire(fire=fire, job=new_job(), allow_overlap=True, now=NOW)

    assert first.outcome is FireOutcome.ENQUEUED and first.job is not None
    assert second.outcome is FireOutcome.DUPLICATE and second.job is None
    assert first.job.schedule is not None
    assert (first.job.schedule.name, first.job.schedule.fire_at) == ("nightly", fire.fire_at)
    assert first.job.schedule.tenant is None
    stored = await store.get_job(job_id=first.job.id)
    assert stored.schedule == first.job.schedule
    assert await store.latest_fires() == {("nightly", ""): fire.fire_at}


async def test_concurrent_recorders_of_one_fire_enqueue_one_job(
    store: Store, store_url: str
) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    others = [await open_store(store_url) for _ in range(3)]
    try:
        fire = Fire("nightly", NOW)
        results = await asyncio.gather(
            *(
                s.record_fire(fire=fire, job=new_job(), allow_overlap=True, now=NOW)
                for s in [store, *others]
                for _ in range(3)
            )
        )
    finally:
        for other in others:
            await other.close()
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["duplicate"] * 11 + ["enqueued"]


async def test_tenants_and_kinds_are_separate_fires(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    fires = [
        Fire("nightly", NOW, "a"),
        Fire("nightly", NOW, "b"),
        Fire("nightly", NOW, "a", kind="manual"),
    ]
    results = [
        await store.record_fire(fire=f, job=new_job(), allow_overlap=True, now=NOW) for f in fires
    ]
    assert [r.outcome for r in results] == [FireOutcome.ENQUEUED] * 3
    assert results[0].job is not None and results[0].job.schedule is not None
    assert results[0].job.schedule.tenant == "a"
    # manual fires are not the rule's cursor
    assert await store.latest_fires() == {("nightly", "a"): NOW, ("nightly", "b"): NOW}


async def test_overlap_is_skipped_until_the_previous_run_finished(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    first = await store.record_fire(
        fire=Fire("nightly", NOW), job=new_job(), allow_overlap=False, now=NOW
    )
    assert first.job is not None
    later = NOW + timedelta(minutes=1)
    skipped = await store.record_fire(
        fire=Fire("nightly", later), job=new_job(), allow_overlap=False, now=later
    )
    assert skipped.outcome is FireOutcome.SKIPPED
    allowed = await store.record_fire(
        fire=Fire("nightly", later, kind="manual"), job=new_job(), allow_overlap=True, now=later
    )
    assert allowed.outcome is FireOutcome.ENQUEUED and allowed.job is not None

    for _ in range(2):  # the first run and the manual one
        [running] = await store.claim_jobs(
            queues=None, limit=1, lease_ttl=timedelta(minutes=1), worker_id="w", now=later
        )
        await store.ack_jobs(acks=[complete(running)], now=later)
    final = NOW + timedelta(minutes=2)
    fired = await store.record_fire(
        fire=Fire("nightly", final), job=new_job(), allow_overlap=False, now=final
    )
    assert fired.outcome is FireOutcome.ENQUEUED
    assert await store.latest_fires() == {("nightly", ""): final}


async def test_listing_shows_the_last_run_and_its_state(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    assert (await store.get_schedule(name="nightly")).last_job_id is None
    result = await store.record_fire(
        fire=Fire("nightly", NOW), job=new_job(), allow_overlap=True, now=NOW
    )
    assert result.job is not None
    info = await store.get_schedule(name="nightly")
    assert (info.last_fire_at, info.last_job_id) == (NOW, result.job.id)
    assert info.last_job_state is JobState.AVAILABLE

    [job] = await store.claim_jobs(
        queues=None, limit=1, lease_ttl=timedelta(minutes=1), worker_id="w", now=NOW
    )
    await store.ack_jobs(acks=[complete(job)], now=NOW)
    assert (await store.get_schedule(name="nightly")).last_job_state is JobState.COMPLETED


async def test_a_missed_fire_moves_the_cursor_without_a_job(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    result = await store.record_fire(
        fire=Fire("nightly", NOW), job=None, allow_overlap=True, now=NOW
    )
    assert result.outcome is FireOutcome.MISSED
    assert await store.latest_fires() == {("nightly", ""): NOW}
    assert (await store.get_schedule(name="nightly")).last_job_id is None


async def test_startup_fire_is_claimed_once_per_window(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    since = NOW - timedelta(minutes=1)
    claims = [
        await store.claim_startup_fire(name="nightly", since=since, now=NOW) for _ in range(3)
    ]
    assert claims == [True, False, False]
    later = NOW + timedelta(minutes=2)
    assert await store.claim_startup_fire(
        name="nightly", since=later - timedelta(minutes=1), now=later
    )


async def test_delete_forgets_the_schedule_and_its_fires(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    await store.record_fire(fire=Fire("nightly", NOW), job=None, allow_overlap=True, now=NOW)
    assert await store.delete_schedules(names=["nightly"]) == 1
    assert await store.list_schedules() == []
    assert await store.latest_fires() == {}
    await store.create_schedule(spec=CRON, now=NOW)
    fresh = await store.record_fire(
        fire=Fire("nightly", NOW), job=None, allow_overlap=True, now=NOW
    )
    assert fresh.outcome is FireOutcome.MISSED, "a re-created schedule starts afresh"


async def test_pruning_fires_keeps_each_rules_cursor(store: Store) -> None:
    await store.create_schedule(spec=CRON, now=NOW)
    for hours in range(3):
        moment = NOW + timedelta(hours=hours)
        await store.record_fire(
            fire=Fire("nightly", moment), job=None, allow_overlap=True, now=moment
        )
    await store.record_fire(
        fire=Fire("nightly", NOW, kind="manual"), job=None, allow_overlap=True, now=NOW
    )
    pruned = await store.prune_fires(before=NOW + timedelta(hours=1))
    assert pruned == 2
    assert await store.latest_fires() == {("nightly", ""): NOW + timedelta(hours=2)}
    assert await store.prune_fires(before=NOW + timedelta(days=1)) == 2
    assert await store.latest_fires() == {("nightly", ""): NOW + timedelta(hours=2)}
    again = await store.record_fire(
        fire=Fire("nightly", NOW + timedelta(hours=1)), job=None, allow_overlap=True, now=NOW
    )
    assert again.outcome is FireOutcome.MISSED, "a pruned fire can be recorded again"
    assert await store.latest_fires() == {("nightly", ""): NOW + timedelta(hours=2)}, (
        "a cursor never moves back"
    )
