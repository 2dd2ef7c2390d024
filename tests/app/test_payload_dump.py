"""A batch's payloads are validated and stored exactly as one-by-one validation would."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, PayloadInvalid, Task


class Stamp(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)

    at: datetime
    amount: Decimal
    customer: int = pydantic.Field(alias="customerId")

    @pydantic.field_serializer("amount")
    def _cents(self, amount: Decimal) -> str:
        return f"{amount:.2f}"

    @pydantic.computed_field  # type: ignore[prop-decorator]
    @property
    def day(self) -> str:
        return self.at.date().isoformat()


class LoudStamp(Stamp):
    shout: str = "!"


class Foreign(pydantic.BaseModel):
    at: datetime
    amount: Decimal
    customerId: int


class Redacted(pydantic.BaseModel):
    secret: str

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().model_dump(**kwargs), "secret": "***"}


AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_a_batch_stores_what_each_payload_dumps_to(app: Conveyor) -> None:
    @app.task(name="stamp")
    async def stamp(payload: Stamp) -> None: ...

    payloads: list[Any] = [
        {"at": AT.isoformat(), "amount": "1.5", "customerId": 1},
        Stamp(at=AT, amount=Decimal(2), customer=2),
        LoudStamp(at=AT, amount=Decimal(3), customer=3, shout="hey"),
        Foreign(at=AT, amount=Decimal(4), customerId=4),
    ]

    jobs = await stamp.enqueue_many(payloads)

    expected = [stamp.validate(p).model_dump(mode="json") for p in payloads]
    assert [job.payload for job in jobs] == expected
    assert jobs[0].payload == {"at": "2026-01-02T03:04:05Z", "amount": "1.50"} | {
        "customer": 1,
        "day": "2026-01-02",
    }
    assert jobs[2].payload["shout"] == "hey"  # a subclass keeps its own fields
    assert [(await app.get_job(job.id)).payload for job in jobs] == expected


async def test_a_batch_of_one_model_dumps_only_through_its_own_model_dump(
    app: Conveyor,
) -> None:
    @app.task(name="redacted")
    async def redacted(payload: Redacted) -> None: ...

    jobs = await redacted.enqueue_many([{"secret": "a"}, Redacted(secret="b")])

    assert [job.payload for job in jobs] == [{"secret": "***"}, {"secret": "***"}]


def test_list_validation_errors_are_those_of_the_first_bad_payload(app: Conveyor) -> None:
    task: Task[Any] = app.task(name="stamp")(_handler)
    good = {"at": AT.isoformat(), "amount": "1", "customerId": 1}

    with pytest.raises(PayloadInvalid) as batch:
        task.dump_many([good, {**good, "amount": "x"}, {"at": "never"}])
    with pytest.raises(PayloadInvalid) as single:
        task.validate({**good, "amount": "x"})

    assert batch.value.task == "stamp"
    assert batch.value.errors == single.value.errors
    assert [e["loc"] for e in batch.value.errors] == [["amount"]]


async def _handler(payload: Stamp) -> None: ...
