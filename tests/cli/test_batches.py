"""``conveyor batches list|show|cancel`` as real subprocesses, on batches an in-process
app created and partly ran."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import drain
from tests.cli.batch_app import Child, build
from tests.cli.conftest import SUBPROCESS_TIMEOUT, Cli

pytestmark = pytest.mark.timeout(SUBPROCESS_TIMEOUT)
APP = "tests.cli.batch_app:app"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as their rows (rich reads COLUMNS): cells are not folded mid-word."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
async def app(store_url: str) -> AsyncIterator[Conveyor]:
    made = build(store_url)
    yield made
    await made.close()


def _json(conveyor: Cli, *args: str) -> Any:
    done = conveyor(*args, "--json", app=APP)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_list_and_show_a_batch_as_its_children_finish(app: Conveyor, conveyor: Cli) -> None:
    mixed = await app.enqueue_batch(
        "batch.child", [Child(n=n, fail=n == 1) for n in range(5)], callback="batch.totals"
    )
    later = await app.enqueue_batch("batch.child", [Child(n=9)])
    children = (await app.batch_jobs(mixed.id)).jobs
    await app.cancel(children[4].id)
    assert await drain(app, max_jobs=3) == 3  # children 0 and 2 complete, 1 fails

    listed = _json(conveyor, "batches", "list")
    shown = _json(conveyor, "batches", "show", str(mixed.id), "--limit", "2")
    human = conveyor("batches", "show", str(mixed.id), app=APP)

    assert [b["id"] for b in listed["batches"]] == [later.id, mixed.id]
    counts = {k: shown["batch"][k] for k in ("completed", "failed", "cancelled", "pending")}
    assert counts == {"completed": 2, "failed": 1, "cancelled": 1, "pending": 1}
    assert shown["batch"]["progress"] == {"done": 4, "total": 5}
    assert [j["id"] for j in shown["children"]] == [children[0].id, children[1].id]
    assert shown["next_after"] == children[1].id and shown["callback_job"] is None
    assert human.returncode == 0, human.stderr
    for text in ("4/5 (80%)", "completed 2", "failed 1", "cancelled 1", "pending 1"):
        assert text in human.stdout, human.stdout
    assert "batch.totals, enqueued when every child is final" in human.stdout

    assert await drain(app, max_jobs=1) == 1  # the last child: the callback is enqueued
    finished = _json(conveyor, "batches", "show", str(mixed.id))
    unfinished = _json(conveyor, "batches", "list", "--unfinished")
    table = conveyor("batches", "list", app=APP)

    assert finished["batch"]["finished_at"] is not None
    assert finished["batch"]["progress"] == {"done": 5, "total": 5}
    callback = finished["callback_job"]
    assert (callback["task"], callback["state"]) == ("batch.totals", "available")
    assert callback["payload"]["completed"] == 3 and callback["payload"]["failed"] == 1
    assert len(finished["children"]) == 5 and finished["next_after"] is None
    assert [b["id"] for b in unfinished["batches"]] == [later.id]
    assert table.returncode == 0, table.stderr
    assert f"job {callback['id']}" in table.stdout


async def test_cancel_a_batch_cancels_its_unfinished_children(app: Conveyor, conveyor: Cli) -> None:
    batch = await app.enqueue_batch("batch.child", [Child(n=n) for n in range(3)])
    assert await drain(app, max_jobs=1) == 1

    human = conveyor("batches", "cancel", str(batch.id), app=APP)
    again = _json(conveyor, "batches", "cancel", str(batch.id))

    assert human.returncode == 0, human.stderr
    assert f"batch {batch.id}: 2 cancelled, 1 completed, 0 failed, 0 pending" in human.stdout
    assert (again["cancelled"], again["completed"], again["pending"]) == (2, 1, 0)
    states = {j.state.value for j in (await app.batch_jobs(batch.id)).jobs}
    assert states == {"completed", "cancelled"}


def test_a_missing_batch_exits_1_and_bad_arguments_exit_2(conveyor: Cli) -> None:
    missing = conveyor("batches", "show", "999999", app=APP)
    cancel_missing = conveyor("batches", "cancel", "999999", app=APP)
    bad_limit = conveyor("batches", "list", "--limit", "0", app=APP)
    no_id = conveyor("batches", "show", app=APP)

    assert missing.returncode == 1 and "999999" in missing.stderr
    assert cancel_missing.returncode == 1
    assert bad_limit.returncode == 2 and "limit" in bad_limit.stderr
    assert no_id.returncode == 2
    for done in (missing, cancel_missing, bad_limit, no_id):
        assert "Traceback" not in done.stderr, done.stderr
