"""Fixtures for the CLI tests: the ``conveyor`` command as a real subprocess on a real store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECEIPT = {
    "customer_email": "ana@example.com",
    "customer_name": "Ana",
    "wash": "deluxe",
    "amount_cents": 2499,
}

SUBPROCESS_TIMEOUT = 240
"""Per-test timeout (s) for tests that start several ``conveyor`` processes: each one
imports the app afresh, which takes seconds on a loaded 2-core machine."""

Cli = Callable[..., subprocess.CompletedProcess[str]]
"""``conveyor(*args, app=...)``: run the command to its end and return what it did."""


@pytest.fixture
def cli_env(store_url: str) -> dict[str, str]:
    """The environment of a ``conveyor`` subprocess: the test's database, the car-wash app,
    and the repository on the path (so that ``--app tests.…`` modules import)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "CONVEYOR_DATABASE_URL": store_url,
        "CONVEYOR_APP": "carwash.app:app",
        "PYTHONPATH": path,
    }


@pytest.fixture
def conveyor(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    def run(*args: str, app: str | None = None) -> subprocess.CompletedProcess[str]:
        env = cli_env if app is None else {**cli_env, "CONVEYOR_APP": app}
        return subprocess.run(
            [sys.executable, "-m", "conveyor.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run
