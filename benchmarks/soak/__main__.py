"""``python -m benchmarks.soak`` (``make soak``): a steady load through the HTTP API for
``SOAK_SECONDS`` (default an hour), RSS of every process sampled, and a least-squares
slope per process at the end.

Environment:
    SOAK_SECONDS          how long the load runs (default 3600)
    SOAK_RATE             jobs enqueued per second through the API (default 50)
    SOAK_WORKERS          worker processes (default 2)
    SOAK_SAMPLE_SECONDS   between RSS samples (default 10)
    SOAK_DATABASE_URL     the database (default: a fresh SQLite file in a temp dir);
                          for PostgreSQL give an empty database, it is migrated
    SOAK_OUTPUT           where the JSON figures go (default: stdout only)

The first tenth of the run (at least 60 s, at most half) is warm-up: allocators, caches
and pools fill then, so the slope is fitted on the samples after it. A process counts as
flat when its fitted change over the measured window is within three standard deviations
of the samples around the fit, or under 2 MB.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from conveyor import Conveyor, JobState

ROOT = Path(__file__).resolve().parents[2]
APP = "benchmarks.soak.app:app"
TASKS = ("soak.digest", "soak.progress", "soak.flaky")
FLAT_MB = 2.0


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)

    def sample(self, at: float) -> None:
        try:
            rss = psutil.Process(self.popen.pid).memory_info().rss
        except psutil.NoSuchProcess:
            return
        self.samples.append((at, rss / 2**20))


def slope(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope (MB per second) and the residuals' standard deviation (MB)."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    if len(points) < 3:
        return 0.0, 0.0
    fit = statistics.linear_regression(xs, ys)
    residuals = [y - (fit.slope * x + fit.intercept) for x, y in points]
    return fit.slope, statistics.pstdev(residuals)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli", "--app", APP, *args],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=sink,
        )


async def load(base: str, rate: float, until: float, counts: dict[str, int]) -> None:
    """Enqueue through the API at ``rate`` per second; list jobs now and then."""
    interval = 1.0 / rate
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    n = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while loop.time() < until:
            task = TASKS[n % len(TASKS)]
            response = await client.post(f"/api/tasks/{task}", json={"n": n, "text": "x" * 64})
            counts["accepted" if response.status_code == 202 else "refused"] += 1
            if n % 500 == 0:
                listed = await client.get("/api/jobs", params={"limit": 100, "state": "failed"})
                counts["reads"] += 1
                counts["read_errors"] += listed.status_code != 200
            n += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))


async def sample(processes: list[Process], every: float, started: float, until: float) -> None:
    while time.monotonic() < until:
        now = time.monotonic() - started
        for process in processes:
            process.sample(now)
        await asyncio.sleep(every)


async def wait_serving(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        for _ in range(600):
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the API did not start")


async def soak() -> dict[str, Any]:
    seconds = float(os.environ.get("SOAK_SECONDS", "3600"))
    rate = float(os.environ.get("SOAK_RATE", "50"))
    workers = int(os.environ.get("SOAK_WORKERS", "2"))
    every = float(os.environ.get("SOAK_SAMPLE_SECONDS", "10"))
    scratch = Path(tempfile.mkdtemp(prefix="conveyor-soak-"))
    url = os.environ.get("SOAK_DATABASE_URL") or f"sqlite:///{scratch / 'soak.db'}"
    app = Conveyor(url)
    await (await app.store()).migrate()
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    port = free_port()
    processes = [Process("api", start(["api", "--port", str(port)], env, scratch / "api.log"))]
    for i in range(workers):
        popen = start(["worker", "--concurrency", "20"], env, scratch / f"worker{i}.log")
        processes.append(Process(f"worker{i}", popen))
    base = f"http://127.0.0.1:{port}"
    counts = {"accepted": 0, "refused": 0, "reads": 0, "read_errors": 0}
    try:
        await wait_serving(base)
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            load(base, rate, until, counts), sample(processes, every, started, until)
        )
        finals = {c.state: 0 for c in await app.counts()}
        for c in await app.counts():
            finals[c.state] += c.count
    finally:
        for process in processes:
            process.popen.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.popen.kill()
        await app.close()
    return report(processes, seconds, rate, counts, finals, url)


def report(
    processes: list[Process],
    seconds: float,
    rate: float,
    counts: dict[str, int],
    finals: dict[JobState, int],
    url: str,
) -> dict[str, Any]:
    warm_up = min(max(60.0, seconds / 10), seconds / 2)
    figures: dict[str, Any] = {
        "seconds": seconds,
        "rate_per_second": rate,
        "database": url.split("://")[0],
        "warm_up_seconds": warm_up,
        "requests": counts,
        "jobs": {state.value: n for state, n in finals.items()},
        "processes": {},
    }
    for process in processes:
        measured = [(t, mb) for t, mb in process.samples if t >= warm_up]
        per_second, noise = slope(measured)
        window = (measured[-1][0] - measured[0][0]) if len(measured) > 1 else 0.0
        change = per_second * window
        figures["processes"][process.name] = {
            "samples": len(process.samples),
            "rss_start_mb": round(process.samples[0][1], 1) if process.samples else None,
            "rss_after_warm_up_mb": round(measured[0][1], 1) if measured else None,
            "rss_end_mb": round(process.samples[-1][1], 1) if process.samples else None,
            "slope_mb_per_hour": round(per_second * 3600, 2),
            "fitted_change_mb": round(change, 2),
            "noise_mb": round(noise, 2),
            "flat": abs(change) <= max(3 * noise, FLAT_MB) if len(measured) >= 3 else None,
        }
    return figures


def main() -> None:
    figures = asyncio.run(soak())
    text = json.dumps(figures, indent=2)
    print(text)
    output = os.environ.get("SOAK_OUTPUT")
    if output:
        Path(output).write_text(text + "\n")
    for name, process in figures["processes"].items():
        print(
            f"{name}: {process['rss_after_warm_up_mb']} -> {process['rss_end_mb']} MB, "
            f"slope {process['slope_mb_per_hour']} MB/h (noise {process['noise_mb']} MB): "
            + {True: "flat", False: "GROWING", None: "too few samples"}[process["flat"]]
        )
    if any(p["flat"] is False for p in figures["processes"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
