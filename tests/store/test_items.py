"""Conformance: the item ledger - outcomes per item, done is final, counts and pages."""

from __future__ import annotations

from conveyor.item import ItemMark, ItemOutcome, job_ledger
from conveyor.store.base import Store
from tests.store.helpers import NOW, insert_and_claim

DONE, SKIPPED, FAILED = ItemOutcome.DONE, ItemOutcome.SKIPPED, ItemOutcome.FAILED
LEDGER = job_ledger(1)


def mark(
    key: str, outcome: ItemOutcome, reason: str | None = None, *, attempt: int = 1
) -> ItemMark:
    return ItemMark(LEDGER, key, outcome, job_id=1, attempt=attempt, reason=reason)


async def test_recorded_outcomes_are_counted_and_listed_in_key_order(store: Store) -> None:
    await store.record_items(
        marks=[mark("b", DONE), mark("a", FAILED, "bounced"), mark("c", SKIPPED, "optout")],
        now=NOW,
    )

    counts = await store.count_items(ledger=LEDGER)
    page = await store.list_items(ledger=LEDGER, outcome=None, after=None, limit=10)

    assert (counts.done, counts.skipped, counts.failed, counts.total) == (1, 1, 1, 3)
    assert [(i.key, i.outcome, i.reason) for i in page.items] == [
        ("a", FAILED, "bounced"),
        ("b", DONE, None),
        ("c", SKIPPED, "optout"),
    ]
    assert page.items[0].recorded_at == NOW
    assert page.next_after is None


async def test_done_is_final_but_failed_can_become_done(store: Store) -> None:
    await store.record_items(marks=[mark("x", DONE), mark("y", FAILED, "smtp 451")], now=NOW)
    await store.record_items(
        marks=[mark("x", FAILED, "late", attempt=2), mark("y", DONE, attempt=2)], now=NOW
    )

    page = await store.list_items(ledger=LEDGER, outcome=None, after=None, limit=10)

    assert [(i.key, i.outcome, i.attempt) for i in page.items] == [("x", DONE, 1), ("y", DONE, 2)]


async def test_one_batch_may_mark_a_key_twice(store: Store) -> None:
    await store.record_items(
        marks=[mark("k", FAILED, "first"), mark("k", DONE), mark("k", FAILED, "again")], now=NOW
    )

    assert await store.done_item_keys(ledger=LEDGER, keys=None) == {"k"}


async def test_done_keys_are_filtered_by_the_keys_asked_and_by_ledger(store: Store) -> None:
    other = ItemMark(job_ledger(2), "a", DONE, job_id=2, attempt=1)
    await store.record_items(
        marks=[mark("a", DONE), mark("b", DONE), mark("c", FAILED, "x"), other], now=NOW
    )

    assert await store.done_item_keys(ledger=LEDGER, keys=None) == {"a", "b"}
    assert await store.done_item_keys(ledger=LEDGER, keys=["b", "c", "zz"]) == {"b"}
    assert await store.done_item_keys(ledger=LEDGER, keys=[]) == set()
    assert await store.done_item_keys(ledger=job_ledger(3), keys=None) == set()


async def test_items_page_by_key_and_filter_by_outcome(store: Store) -> None:
    keys = [f"row-{n:03}" for n in range(25)]
    await store.record_items(
        marks=[mark(k, FAILED if n % 5 == 0 else DONE, "bad") for n, k in enumerate(keys)],
        now=NOW,
    )

    seen: list[str] = []
    after: str | None = None
    while True:
        page = await store.list_items(ledger=LEDGER, outcome=None, after=after, limit=10)
        seen += [i.key for i in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    failed = await store.list_items(ledger=LEDGER, outcome=FAILED, after=None, limit=100)

    assert seen == keys
    assert [i.key for i in failed.items] == keys[::5]


async def test_items_recorded_in_a_transaction_commit_with_it(store: Store) -> None:
    (job,) = await insert_and_claim(store)
    assert job.lease is not None
    ledger = job_ledger(job.id)

    async with store.transaction() as tx:
        await tx.record_items([ItemMark(ledger, "kept", DONE, job.id, 1)], NOW)
    try:
        async with store.transaction() as tx:
            await tx.record_items([ItemMark(ledger, "lost", DONE, job.id, 1)], NOW)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass

    assert await store.done_item_keys(ledger=ledger, keys=None) == {"kept"}
