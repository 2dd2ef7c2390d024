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


async def test_serve_runs_the_api_and_a_worker(store_url: str) -> None:
    port = free_port()
    process = serve(store_url, "--port", str(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(200):  # the server is starting; bounded
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
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
