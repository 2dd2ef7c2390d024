"""build_many: frozen slots dataclasses built column by column, as their __init__ would."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor.bulk import allow_collector_pause, build_many, collector_paused, fill
from conveyor.job import Job, JobState
from conveyor.store.base import Inserted, NewJob

NOW = datetime(2026, 1, 1, tzinfo=UTC)
JOB = {"task": "t", "queue": "q", "state": JobState.AVAILABLE, "priority": 0, "attempt": 0}
JOB |= {"max_attempts": 3, "run_at": NOW, "created_at": NOW}


def test_jobs_built_in_bulk_equal_jobs_built_one_by_one() -> None:
    ids, payloads = [1, 2, 3], [{"n": 1}, {"n": 2}, {"n": 3}]

    built = build_many(Job, 3, each={"id": ids, "payload": payloads}, shared=JOB)

    assert built == [Job(id=i, payload=p, **JOB) for i, p in zip(ids, payloads, strict=True)]
    assert [type(job) for job in built] == [Job] * 3
    assert built[0].errors == () and built[0].lease is None  # defaults are set


def test_many_jobs_filled_column_by_column_equal_jobs_built_one_by_one() -> None:
    ids = list(range(1, 41))  # past the count from which slots are filled by column
    payloads = [{"n": i} for i in ids]

    built = build_many(Job, len(ids), each={"id": ids, "payload": payloads}, shared=JOB)

    assert built == [Job(id=i, payload=p, **JOB) for i, p in zip(ids, payloads, strict=True)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[5].id = 2  # type: ignore[misc]
    with pytest.raises(TypeError, match="no value for 'payload'"):
        build_many(Job, len(ids), each={"id": ids}, shared=JOB)


@dataclasses.dataclass(frozen=True, slots=True)
class Tagged:
    name: str
    tags: dict[str, Any] = dataclasses.field(default_factory=dict)


@pytest.mark.parametrize("count", [3, 40])  # one by one, and column by column
def test_a_default_factory_gives_each_instance_its_own_value(count: int) -> None:
    built = build_many(Tagged, count, each={"name": [str(i) for i in range(count)]}, shared={})

    assert built == [Tagged(str(i)) for i in range(count)]
    assert built[0].tags is not built[1].tags


def test_instances_built_in_bulk_stay_frozen() -> None:
    [job] = build_many(Job, 1, each={"id": [1]}, shared={**JOB, "payload": {}})

    with pytest.raises(dataclasses.FrozenInstanceError):
        job.id = 2  # type: ignore[misc]
    [inserted] = build_many(Inserted, 1, each={"job": [job]}, shared={"created": True})
    assert inserted == Inserted(job=job, created=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inserted.created = False  # type: ignore[misc]


def test_every_field_is_set_from_each_shared_or_its_default() -> None:
    shared: dict[str, Any] = {"task": "t", "queue": "q", "run_at": NOW}

    [built] = build_many(NewJob, 1, each={"payload": [{"n": 1}]}, shared=shared)

    assert built == NewJob(payload={"n": 1}, **shared)
    with pytest.raises(TypeError, match="no value for 'queue'"):
        build_many(NewJob, 1, each={"payload": [{}]}, shared={"task": "t", "run_at": NOW})


def test_bad_columns_are_refused() -> None:
    with pytest.raises(TypeError, match="no fields"):
        build_many(Inserted, 1, each={}, shared={"job": None, "created": True, "extra": 1})
    with pytest.raises(ValueError, match="2 values for 3"):
        build_many(Inserted, 3, each={"job": [None, None]}, shared={"created": True})


def test_classes_it_cannot_build_are_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self) -> None: ...

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        n: int

    for cls in (Checked, NoSlots):
        with pytest.raises(TypeError):
            build_many(cls, 1, each={"n": [1]}, shared={})


def test_fill_sets_a_field_known_only_after_the_rest() -> None:
    built = build_many(Job, 3, each={"payload": [{}, {}, {}]}, shared={**JOB, "id": 0})

    fill(built, "id", [7, 8, 9])

    assert built == [Job(id=i, payload={}, **JOB) for i in (7, 8, 9)]
    with pytest.raises(ValueError, match="2 values for 3"):
        fill(built, "id", [1, 2])


@pytest.fixture
def pausing_allowed() -> Iterator[None]:
    """As with ``pause_gc_during_enqueue=True``."""
    allow_collector_pause(True)
    try:
        yield
    finally:
        allow_collector_pause(False)


def _collector_states_while_building() -> list[bool]:
    """Whether the collector was on as each of 100 rows was built."""
    seen: list[bool] = []

    def factory() -> dict[str, Any]:
        seen.append(gc.isenabled())
        return {}

    @dataclasses.dataclass(frozen=True, slots=True)
    class Row:
        n: int
        extra: dict[str, Any] = dataclasses.field(default_factory=factory)

    build_many(Row, 100, each={"n": list(range(100))}, shared={})
    return seen


def test_by_default_the_collector_stays_on_while_a_batch_is_built() -> None:
    seen = _collector_states_while_building()
    assert seen == [True] * 100


@pytest.mark.usefixtures("pausing_allowed")
def test_the_collector_is_off_while_a_batch_is_built_and_on_again_after() -> None:
    seen = _collector_states_while_building()
    assert seen == [False] * 100
    assert gc.isenabled()


@pytest.mark.usefixtures("pausing_allowed")
def test_the_collector_comes_back_after_an_error_and_stays_off_if_it_was() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled(), "a collector the caller turned off stays off"
    finally:
        gc.enable()


def test_the_app_setting_allows_the_pause() -> None:
    from conveyor import Conveyor

    try:
        Conveyor("sqlite:///unused.db", pause_gc_during_enqueue=True)
        with collector_paused():
            assert not gc.isenabled()
        Conveyor("sqlite:///unused.db")
        with collector_paused():
            assert gc.isenabled()
    finally:
        allow_collector_pause(False)


def test_an_app_the_conveyor_command_loads_pauses_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from conveyor.cli.loading import load_app

    module = tmp_path / "gc_pause_app.py"
    module.write_text(
        "from conveyor import Conveyor\n"
        "app = Conveyor('sqlite:///unused.db')\n"
        "off = Conveyor('sqlite:///unused.db', pause_gc_during_enqueue=False)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        load_app("gc_pause_app:off")
        with collector_paused():
            assert gc.isenabled(), "an explicit false holds in the command too"
        load_app("gc_pause_app:app")
        with collector_paused():
            assert not gc.isenabled(), "unset, the command's own process pauses"
    finally:
        allow_collector_pause(False)
