"""Every ```python block in the README and the docs runs, page by page, so samples cannot rot.

Each page runs in a fresh process in an empty folder (the default SQLite store lands
there), its blocks in order in one namespace. A page whose samples read
``os.environ["DATABASE_URL"]`` gets a throwaway PostgreSQL database there. A block that
cannot run on its own carries ``<!-- not-run: reason -->`` on the line before its fence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.samples import Block, blocks_of, pages

RUNNER = Path(__file__).with_name("run_samples.py")
ALL_BLOCKS = [block for page in pages() for block in blocks_of(page)]
RUNNABLE: dict[str, list[Block]] = {}
for _block in ALL_BLOCKS:
    if _block.not_run is None:
        RUNNABLE.setdefault(_block.page, []).append(_block)


@pytest.mark.parametrize("page", sorted(RUNNABLE))
def test_page_samples_run(page: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    blocks = RUNNABLE[page]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    if any('os.environ["DATABASE_URL"]' in block.source for block in blocks):
        env["DATABASE_URL"] = request.getfixturevalue("pg_url")
    listing = tmp_path / "blocks.json"
    listing.write_text(
        json.dumps([{"name": f"{b.page}:{b.line}", "source": b.source} for b in blocks])
    )
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(listing)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr + done.stdout


def test_every_opt_out_gives_a_reason() -> None:
    silent = [f"{b.page}:{b.line}" for b in ALL_BLOCKS if b.not_run == ""]
    assert silent == [], "write <!-- not-run: why --> before these blocks"


def test_most_samples_run() -> None:
    """The opt-out is for the few blocks that cannot run alone, not a way around the test."""
    skipped = [b for b in ALL_BLOCKS if b.not_run is not None]
    assert len(skipped) * 3 < len(ALL_BLOCKS), [f"{b.page}:{b.line}" for b in skipped]
