"""Every example the docs include (docs/examples/*.py) runs to completion on SQLite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(example: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    done = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_there_are_examples() -> None:
    assert EXAMPLES


def test_the_testing_guide_example_passes_under_pytest(tmp_path: Path) -> None:
    """docs/examples/testing/ is what the "testing your tasks" page shows: a user's tasks
    module, its tests and its pytest.ini. Copied out, it passes under pytest as it is."""
    source = EXAMPLES[0].parent / "testing"
    for file in source.iterdir():
        if file.is_file():
            shutil.copy(file, tmp_path / file.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "."],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # 5 would mean no tests ran
