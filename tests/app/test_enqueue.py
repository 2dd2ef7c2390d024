"""Enqueueing: typed and by name, in bulk, payload validation, unknown tasks, idempotency."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

import conveyor.app
from conveyor import (
    Conveyor,
    InvalidArgument,
    Job,
    JobContext,
    JobState,
    PayloadInvalid,
    Task,
    TaskNotFound,
)
from conveyor.clock import FrozenClock
from tests.contract import JOB_JSON_KEYS


class Receipt(pydantic.BaseModel):
    customer_id: int
    note: str = ""


class Item(pydantic.BaseModel):
    sku: str
    qty: int = pydantic.Field(gt=0)


class Order(pydantic.BaseModel):
    order_id: int
    items: list[Item]


async def send_receipt(payload: Receipt, ctx: JobContext) -> None:
    """The task most tests enqueue."""


def ship_order(payload: Order) -> None:
    """A task with a nested payload."""


@pytest.fixture
def receipts(app: Conveyor) -> Task[Any]:
    return app.task(queue="email")(send_receipt)


@pytest.fixture
def orders(app: Conveyor) -> Task[Any]:
    return app.task(ship_order)


async def _all_jobs(app: Conveyor) -> list[Job]:
    page = await app.list_jobs(limit=1000)
    assert page.next_after is None
    return page.jobs


async def test_typed_enqueue(app: Conveyor, receipts: Task[Any], clock: FrozenClock) -> None:
    job = await receipts.enqueue(Receipt(customer_id=1, note="thanks"))

    assert job.id > 0
    assert job.task == "tests.app.test_enqueue.send_receipt"
    assert job.queue == "email"
    assert job.state is JobState.AVAILABLE
    assert job.payload == {"customer_id": 1, "note": "thanks"}
    assert job.created_at == clock.now()
    assert await app.get_job(job.id) == job


@pytest.mark.parametrize("name", ["send_receipt", "tests.app.test_enqueue.send_receipt"])
async def test_enqueue_by_name_validates_and_stores_the_model(
    app: Conveyor, receipts: Task[Any], name: str
) -> None:
    job = await app.enqueue(name, {"customer_id": "7"})

    assert job.task == receipts.name
    # Validated through the model: coerced, defaults filled in.
    assert job.payload == {"customer_id": 7, "note": ""}
    assert (await app.get_job(job.id)).payload == {"customer_id": 7, "note": ""}


async def test_enqueue_by_task_object_on_the_app(app: Conveyor, orders: Task[Any]) -> None:
    job = await app.enqueue(orders, Order(order_id=3, items=[Item(sku="a", qty=2)]))
    assert job.payload == {"order_id": 3, "items": [{"sku": "a", "qty": 2}]}


async def test_enqueue_many_ten_thousand_in_order(
    app: Conveyor, receipts: Task[Any], record_property: Callable[[str, object], None]
) -> None:
    payloads = [Receipt(customer_id=i) for i in range(10_000)]

    started = time.perf_counter()
    jobs = await receipts.enqueue_many(payloads)
    record_property("enqueue_many_10000_seconds", round(time.perf_counter() - started, 3))

    assert len(jobs) == 10_000
    assert [j.payload["customer_id"] for j in jobs] == list(range(10_000))
    ids = [j.id for j in jobs]
    assert len(set(ids)) == 10_000
    assert ids == sorted(ids), "ids follow the input order"
    assert all(j.state is JobState.AVAILABLE and j.queue == "email" for j in jobs)
    counts = await app.counts()
    assert sum(c.count for c in counts) == 10_000
    assert (await app.get_job(ids[-1])).payload == {"customer_id": 9999, "note": ""}


async def test_enqueue_many_by_name(app: Conveyor, receipts: Task[Any]) -> None:
    jobs = await app.enqueue_many("send_receipt", [{"customer_id": i} for i in range(5)])

    assert [j.payload["customer_id"] for j in jobs] == [0, 1, 2, 3, 4]
    assert {j.task for j in jobs} == {receipts.name}
    assert len(await _all_jobs(app)) == 5


async def test_enqueue_many_of_nothing_enqueues_nothing(app: Conveyor, receipts: Task[Any]) -> None:
    assert await receipts.enqueue_many([]) == []
    assert await _all_jobs(app) == []


@pytest.mark.parametrize(
    ("payload", "loc", "error_type"),
    [
        ({"customer_id": "abc"}, ["customer_id"], "int_parsing"),
        ({"note": "no id"}, ["customer_id"], "missing"),
    ],
)
async def test_an_invalid_payload_names_the_field_and_enqueues_nothing(
    app: Conveyor,
    receipts: Task[Any],
    payload: dict[str, Any],
    loc: list[Any],
    error_type: str,
) -> None:
    with pytest.raises(PayloadInvalid) as info:
        await app.enqueue("send_receipt", payload)

    error = info.value
    assert error.task == receipts.name
    assert [e["loc"] for e in error.errors] == [loc]
    assert error.errors[0]["type"] == error_type
    assert error.errors[0]["msg"]
    assert "customer_id" in str(error)
    assert await _all_jobs(app) == []


async def test_a_nested_invalid_field_has_its_full_path(app: Conveyor, orders: Task[Any]) -> None:
    payload = {"order_id": 1, "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0}]}

    with pytest.raises(PayloadInvalid) as info:
        await orders.enqueue(payload)

    assert [e["loc"] for e in info.value.errors] == [["items", 1, "qty"]]
    assert "items.1.qty" in str(info.value)
    assert await _all_jobs(app) == []


async def test_a_payload_of_another_model_is_validated_against_the_tasks_model(
    app: Conveyor, orders: Task[Any]
) -> None:
    with pytest.raises(PayloadInvalid):
        await orders.enqueue(Receipt(customer_id=1))  # type: ignore[arg-type]
    assert await _all_jobs(app) == []


async def test_one_invalid_payload_in_a_batch_enqueues_nothing(
    app: Conveyor, receipts: Task[Any]
) -> None:
    payloads: list[dict[str, Any]] = [{"customer_id": i} for i in range(100)]
    payloads[57] = {"customer_id": "fifty-seven"}

    with pytest.raises(PayloadInvalid) as info:
        await app.enqueue_many("send_receipt", payloads)

    assert [e["loc"] for e in info.value.errors] == [["customer_id"]]
    assert await _all_jobs(app) == []
    with pytest.raises(PayloadInvalid):
        await receipts.enqueue_many(payloads)
    assert await _all_jobs(app) == []


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Batches above 10 jobs go to the store in chunks of 10 (conveyor.app.ENQUEUE_CHUNK)."""
    monkeypatch.setattr(conveyor.app, "ENQUEUE_CHUNK", 10)
    return 10


@pytest.mark.parametrize(
    ("bad", "loc"),
    [({"customer_id": "thirty"}, ["customer_id"]), ({"customer_id": 1, "note": "\x00"}, [])],
)
async def test_a_bad_payload_in_the_last_chunk_of_a_batch_enqueues_nothing(
    app: Conveyor, receipts: Task[Any], small_chunks: int, bad: dict[str, Any], loc: list[Any]
) -> None:
    payloads: list[dict[str, Any]] = [{"customer_id": i} for i in range(3 * small_chunks + 5)]
    payloads[3 * small_chunks + 2] = bad

    with pytest.raises(PayloadInvalid) as info:
        await receipts.enqueue_many(payloads)

    assert info.value.task == receipts.name
    assert [e["loc"] for e in info.value.errors] == [loc]
    assert await _all_jobs(app) == []


async def test_a_batch_sent_in_chunks_keeps_input_order_and_idempotency_keys(
    app: Conveyor, receipts: Task[Any], small_chunks: int
) -> None:
    held = await receipts.enqueue({"customer_id": -1}, idempotency_key="held")
    count = 3 * small_chunks + 5
    keys: list[str | None] = [None] * count
    keys[3] = keys[2 * small_chunks + 1] = "repeated"
    keys[count - 1] = "held"

    jobs = await receipts.enqueue_many(
        [{"customer_id": i} for i in range(count)], idempotency_keys=keys
    )

    assert jobs[2 * small_chunks + 1] == jobs[3]
    assert jobs[count - 1] == held
    created = [job for i, job in enumerate(jobs) if i not in (2 * small_chunks + 1, count - 1)]
    assert [job.payload["customer_id"] for job in created] == [
        i for i in range(count) if i not in (2 * small_chunks + 1, count - 1)
    ]
    ids = [job.id for job in created]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len(await _all_jobs(app)) == len(created) + 1
    assert await app.get_job(ids[-1]) == created[-1]


async def test_a_nul_character_in_one_payload_of_a_batch_enqueues_nothing(
    app: Conveyor, receipts: Task[Any]
) -> None:
    """PostgreSQL cannot store NUL; both stores refuse it alike, naming the task."""
    payloads: list[dict[str, Any]] = [{"customer_id": i} for i in range(100)]
    payloads[42] = {"customer_id": 42, "note": "before\x00after"}

    with pytest.raises(PayloadInvalid) as info:
        await app.enqueue_many("send_receipt", payloads)

    assert info.value.task == receipts.name
    assert [e["msg"] for e in info.value.errors] == ["strings must not contain NUL characters"]
    assert await _all_jobs(app) == []
    with pytest.raises(PayloadInvalid):
        await app.enqueue("send_receipt", payloads[42])
    assert await _all_jobs(app) == []


async def test_an_unknown_task_name_lists_the_known_tasks(
    app: Conveyor, receipts: Task[Any], orders: Task[Any]
) -> None:
    with pytest.raises(TaskNotFound) as info:
        await app.enqueue("send_reciept", {"customer_id": 1})

    message = str(info.value)
    assert "send_reciept" in message
    assert receipts.name in message
    assert orders.name in message
    assert info.value.known == sorted([receipts.name, orders.name])
    with pytest.raises(TaskNotFound):
        await app.enqueue_many("send_reciept", [{"customer_id": 1}])
    assert await _all_jobs(app) == []


async def test_an_unknown_task_name_on_an_empty_app(app: Conveyor) -> None:
    with pytest.raises(TaskNotFound, match="none registered"):
        await app.enqueue("anything", {})


async def test_the_same_idempotency_key_returns_the_same_job(
    app: Conveyor, receipts: Task[Any]
) -> None:
    first = await receipts.enqueue(Receipt(customer_id=1), idempotency_key="order-1")
    again = await app.enqueue("send_receipt", {"customer_id": 2}, idempotency_key="order-1")

    assert again.id == first.id
    assert again.payload == {"customer_id": 1, "note": ""}, "the first enqueue wins"
    assert again.idempotency_key == "order-1"
    jobs = await _all_jobs(app)
    assert [j.id for j in jobs] == [first.id]
    page = await app.list_jobs(idempotency_key="order-1")
    assert [j.id for j in page.jobs] == [first.id]


async def test_different_keys_and_different_tasks_make_different_jobs(
    app: Conveyor, receipts: Task[Any], orders: Task[Any]
) -> None:
    a = await receipts.enqueue(Receipt(customer_id=1), idempotency_key="k1")
    b = await receipts.enqueue(Receipt(customer_id=1), idempotency_key="k2")
    c = await orders.enqueue(Order(order_id=1, items=[]), idempotency_key="k1")
    unkeyed = [await receipts.enqueue(Receipt(customer_id=1)) for _ in range(2)]

    assert len({a.id, b.id, c.id, *(j.id for j in unkeyed)}) == 5
    assert len(await _all_jobs(app)) == 5


async def test_idempotency_keys_in_one_batch(app: Conveyor, receipts: Task[Any]) -> None:
    held = await receipts.enqueue(Receipt(customer_id=0), idempotency_key="held")

    jobs = await app.enqueue_many(
        "send_receipt",
        [{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}, {"customer_id": 4}],
        idempotency_keys=["new", "held", None, "new"],
    )

    assert jobs[1].id == held.id
    assert jobs[3].id == jobs[0].id
    assert jobs[0].payload["customer_id"] == 1
    assert jobs[2].idempotency_key is None
    assert len({j.id for j in jobs}) == 3
    assert len(await _all_jobs(app)) == 3


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_an_idempotency_key_must_be_1_to_255_characters(
    app: Conveyor, receipts: Task[Any], key: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        await receipts.enqueue(Receipt(customer_id=1), idempotency_key=key)
    assert info.value.field == "idempotency_key"
    assert await _all_jobs(app) == []


async def test_idempotency_keys_must_match_the_payloads(app: Conveyor, receipts: Task[Any]) -> None:
    with pytest.raises(InvalidArgument):
        await app.enqueue_many("send_receipt", [{"customer_id": 1}], idempotency_keys=[])
    assert await _all_jobs(app) == []


async def test_job_json_has_exactly_the_documented_keys(
    app: Conveyor, receipts: Task[Any], clock: FrozenClock
) -> None:
    job = await receipts.enqueue(Receipt(customer_id=1), idempotency_key="k")

    data = (await app.get_job(job.id)).to_json()

    assert set(data) == set(JOB_JSON_KEYS)
    assert json.loads(json.dumps(data)) == data, "plain JSON"
    assert data["id"] == job.id
    assert data["state"] == "available"
    assert data["payload"] == {"customer_id": 1, "note": ""}
    assert data["run_at"] == clock.now().isoformat()
    assert data["created_at"] == clock.now().isoformat()
    assert data["started_at"] is None and data["finished_at"] is None
    assert data["errors"] == []
    assert data["idempotency_key"] == "k"
    assert data["rerun_of"] is None
