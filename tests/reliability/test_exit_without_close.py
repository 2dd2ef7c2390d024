"""A script that enqueues on PostgreSQL and exits without closing the app never hangs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests import pg

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import pydantic
    from conveyor import Conveyor

    class Note(pydantic.BaseModel):
        n: int

    app = Conveyor(sys.argv[1])

    @app.task(name="note")
    async def note(payload: Note) -> None: ...

    async def main() -> None:
        await asyncio.gather(*(app.enqueue("note", {"n": n}) for n in range(4)))

    asyncio.run(main())
    """
)
RUNS = 30


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = pg.unique_name("exit_t")
    url = pg.create_database(name, template=pg_template)
    yield url
    pg.drop_database(name)


@pytest.mark.timeout(900)
def test_a_script_that_never_closes_the_app_exits_every_time(pg_url: str) -> None:
    hung = 0
    for _ in range(RUNS):
        try:
            done = subprocess.run(
                [sys.executable, "-c", SCRIPT, pg_url], capture_output=True, timeout=15
            )
        except subprocess.TimeoutExpired:  # the hang guard: a run that never exits
            hung += 1
            continue
        assert done.returncode == 0, done.stderr.decode()
    assert hung == 0
