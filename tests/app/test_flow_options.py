"""Flow-control options on @app.task: parsing, validation, and what each job carries;
uniqueness windows."""

from __future__ import annotations

from datetime import timedelta

import pydantic
import pytest

from conveyor import ConfigurationError, Conveyor, PayloadInvalid
from conveyor.clock import FrozenClock
from conveyor.flow import FlowOptions, Rate


class Refresh(pydantic.BaseModel):
    tenant: int
    note: str = ""


@pytest.mark.parametrize(
    ("text", "per_second"), [("20/s", 20.0), ("120/m", 2.0), ("36/h", 0.01), (" 5 / sec ", 5.0)]
)
def test_rates_parse_per_second_minute_and_hour(text: str, per_second: float) -> None:
    assert Rate.parse(text).per_second == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["20", "0/s", "-1/s", "20/d", "fast"])
def test_a_bad_rate_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError):
        Rate.parse(text)


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency_key": lambda p: p.tenant},
        {"concurrency_limit": 0},
        {"rate_key": lambda p: p.tenant},
        {"rate": Rate(1, 1), "rate_burst": 0.5},
        {"unique_for": timedelta(0)},
        {"unique_key": lambda p: p.tenant},
    ],
)
def test_inconsistent_flow_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        FlowOptions(**options)  # type: ignore[arg-type]


async def test_jobs_carry_the_keys_and_limits_of_their_task(app: Conveyor) -> None:
    @app.task(
        name="mail",
        rate_limit="120/m",
        rate_key=lambda p: p.tenant,
        concurrency_limit=2,
        concurrency_key=lambda p: p.tenant,
        fairness_key=lambda p: f"tenant-{p.tenant}",
    )
    async def mail(payload: Refresh) -> None: ...

    @app.task(name="sync", concurrency_limit=1, rate_limit="5/s")
    async def sync(payload: Refresh) -> None: ...

    job = await mail.enqueue(Refresh(tenant=7))
    other = await sync.enqueue(Refresh(tenant=7))

    assert (job.concurrency_key, job.concurrency_limit) == ("mail:7", 2)
    assert (job.rate_key, job.fairness_key) == ("mail:7", "tenant-7")
    assert (other.concurrency_key, other.rate_key, other.fairness_key) == ("sync", "sync", None)


async def test_one_job_per_unique_key_per_window(app: Conveyor, clock: FrozenClock) -> None:
    @app.task(name="refresh", unique_for=timedelta(minutes=10), unique_key=lambda p: p.tenant)
    async def refresh(payload: Refresh) -> None: ...

    first = await refresh.enqueue(Refresh(tenant=1))
    same_window = await refresh.enqueue(Refresh(tenant=1, note="again"))
    other_tenant = await refresh.enqueue(Refresh(tenant=2))
    clock.advance(timedelta(minutes=10))
    next_window = await refresh.enqueue(Refresh(tenant=1))
    explicit = await refresh.enqueue(Refresh(tenant=1), idempotency_key="manual")

    assert same_window.id == first.id and same_window.payload == {"tenant": 1, "note": ""}
    assert len({first.id, other_tenant.id, next_window.id, explicit.id}) == 4
    assert first.idempotency_key == "unique:1@2026-01-01T12:00:00Z"
    assert explicit.idempotency_key == "manual"  # an explicit key wins over the window


async def test_without_a_unique_key_the_whole_payload_is_the_key(app: Conveyor) -> None:
    @app.task(name="report", unique_for=timedelta(hours=1))
    async def report(payload: Refresh) -> None: ...

    a = await report.enqueue(Refresh(tenant=1))
    b = await report.enqueue({"tenant": 1})
    c = await report.enqueue(Refresh(tenant=1, note="different"))

    assert a.id == b.id != c.id


@pytest.mark.parametrize("tenants", [[1, 1], [1, 2]], ids=["shared-key", "keys-differ"])
async def test_a_flow_key_with_a_nul_character_enqueues_nothing(
    app: Conveyor, tenants: list[int]
) -> None:
    """PostgreSQL cannot store NUL: refused alike on both stores, whether every job of the
    batch carries that key or only some."""

    @app.task(name="mail", concurrency_limit=1, concurrency_key=lambda p: f"t\x00{p.tenant}")
    async def mail(payload: Refresh) -> None: ...

    with pytest.raises(PayloadInvalid) as info:
        await mail.enqueue_many([Refresh(tenant=t) for t in tenants])

    assert [e["msg"] for e in info.value.errors] == ["strings must not contain NUL characters"]
    assert (await app.list_jobs()).jobs == []
