"""``conveyor serve`` as a real process: the API and a worker together, and its safety rule."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from conveyor import Conveyor, JobState

ROOT = Path(__file__).resolve().parents[2]
RECEIPT = {"customer_email": "a@example.com", "customer_name": "A", "wash": "w", "amount_cents": 5}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "CONVEYOR_APP": "carwash.app:app"}
    env.pop("CONVEYOR_API_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "serve", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_healthy(client: httpx.AsyncClient) -> None:
    """Until the starting server answers /health; bounded."""
    for _ in range(400):
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise AssertionError("the server never answered /health")


async def test_serve_runs_the_api_and_a_worker(store_url: str) -> None:
    port = free_port()
    process = serve(store_url, "--port", str(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await wait_healthy(client)
            created = await client.post("/api/tasks/receipts.send", json=RECEIPT)
            assert created.status_code == 202
            location = created.headers["location"]
            state = ""
            for _ in range(200):
                state = (await client.get(location)).json()["state"]
                if state == "completed":
                    break
                await asyncio.sleep(0.05)
            assert state == "completed"
            ready = await client.get("/health/ready")
            assert ready.status_code == 200 and ready.json()["checks"]["live_workers"] >= 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]


def test_serve_refuses_a_public_address_without_tokens(sqlite_url: str) -> None:
    process = serve(sqlite_url, "--host", "0.0.0.0", "--port", str(free_port()))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert b"CONVEYOR_API_TOKEN" in stderr


async def test_one_sigterm_lets_serve_finish_the_running_job(
    store_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CONVEYOR_DATABASE_URL": store_url,
        "CONVEYOR_APP": "tests.cli.drain_app:app",
        "DRAIN_MARKS": str(tmp_path),
    }
    env.pop("CONVEYOR_API_TOKEN", None)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await wait_healthy(client)
            created = await client.post("/api/tasks/drain.hold", json={"seconds": 1.5})
            assert created.status_code == 202
            location = created.headers["location"]
        for _ in range(400):  # until the handler runs; bounded
            if (tmp_path / "started").exists():
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert (tmp_path / "started").read_text() == "x", "the job ran more than once"
    assert (tmp_path / "done").read_text() == "x", "the job did not finish before the exit"
    async with Conveyor(store_url) as app:
        job = await app.get_job(int(location.rsplit("/", 1)[1]))
    assert job.state is JobState.COMPLETED
    assert job.attempt == 1
