"""Fixtures for the dashboard tests: a real ``conveyor serve`` process with tokens set,
Debian's Chromium driven by Playwright, and screenshots kept as test artefacts.

The in-process tests (auth, CSRF, the 403 rules) use the API tests' fixtures.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor import Conveyor, Job
from tests.api.conftest import api, clock, make_api  # noqa: F401  (shared fixtures)
from tests.dashboard.dash_app import register

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
ADMIN_TOKEN = "admin-" + "a" * 20
READER_TOKEN = "reader-" + "r" * 20
TOKENS = f"ops:admin:{ADMIN_TOKEN},viewer:read:{READER_TOKEN}"


@dataclass
class Server:
    """A running ``conveyor serve`` (API, dashboard and a worker) and an app on the same
    database for the test to enqueue and inspect jobs with."""

    url: str
    app: Conveyor

    async def job_until(self, job_id: int, check: Callable[[Job], bool]) -> Job:
        """The job once ``check`` holds; bounded by a generous hang guard."""
        for _ in range(1200):
            job = await self.app.get_job(job_id)
            if check(job):
                return job
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {job_id} never got there: {job}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The store the served app uses; a test widens it with ``indirect`` parametrisation."""
    return str(request.param)


@pytest.fixture
def served_url(backend: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[backend]))


@pytest.fixture
async def server(served_url: str) -> AsyncIterator[Server]:
    app = register(Conveyor(served_url))
    await app.migrate()
    port = free_port()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "CONVEYOR_DATABASE_URL": served_url,
        "CONVEYOR_APP": "tests.dashboard.dash_app:app",
        "CONVEYOR_API_TOKEN": TOKENS,
        "PYTHONPATH": path,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, process)
        yield Server(url, app)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        await app.close()


async def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError(f"serve exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the server never answered /health")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium; Playwright never downloads a browser here."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs the chromium package")
        pytest.skip(f"{CHROMIUM} is missing: run `make test` (it installs chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            await launched.close()


Shot = Callable[[Any, str], Awaitable[None]]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """Save a screenshot of a page as a test artefact (git-ignored)."""

    async def take(page: Any, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        test = request.node.name.replace("[", "-").replace("]", "")
        await page.screenshot(path=str(SCREENSHOTS / f"{test}--{name}.png"), full_page=True)

    return take
