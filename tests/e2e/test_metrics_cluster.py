"""Cluster-wide metrics: jobs finished by two worker processes are all counted by one
scrape of a third process's /metrics, and the worker's own endpoint shows its share."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.test_serve import free_port
from tests.e2e.metrics_app import build
from tests.e2e.processes import ROOT, opened, start_worker, stop

APP = "tests.e2e.metrics_app:app"
OK_PER_QUEUE = 12
BAD_PER_QUEUE = 3


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def finished(figures: dict[tuple[str, tuple[tuple[str, str], ...]], float], **labels: str) -> float:
    key = ("conveyor_jobs_finished_total", tuple(sorted(labels.items())))
    return figures.get(key, 0.0)


def start_api(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("CONVEYOR_API_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "--app", APP, "api", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(600):  # the process is starting; bounded
            try:
                response = await client.get(url)
                if response.status_code == 200:
                    return response.text
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered")


async def test_one_scrape_counts_the_jobs_of_every_worker_process(store_url: str) -> None:
    async with opened(build(store_url)) as app:
        for queue in ("left", "right"):
            await app.enqueue_many("m.ok", [{"n": n} for n in range(OK_PER_QUEUE)], queue=queue)
            await app.enqueue_many("m.bad", [{"n": n} for n in range(BAD_PER_QUEUE)], queue=queue)
        own_port, api_port = free_port(), free_port()
        # Heartbeats (and with them the tallies) every half second.
        left = start_worker(
            store_url, "--queues", "left", "--metrics-port", str(own_port), app=APP, lease_ttl=1.5
        )
        right = start_worker(store_url, "--queues", "right", app=APP, lease_ttl=1.5)
        api = start_api(store_url, api_port)
        try:
            expected = {
                "completed": OK_PER_QUEUE,
                "retried": BAD_PER_QUEUE,
                "failed": BAD_PER_QUEUE,
            }
            figures: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
            for _ in range(600):  # bounded: the workers finish and heartbeat
                figures = samples(await scrape(f"http://127.0.0.1:{api_port}/metrics"))
                counted = {
                    (queue, outcome): finished(
                        figures,
                        task="m.ok" if outcome == "completed" else "m.bad",
                        queue=queue,
                        outcome=outcome,
                    )
                    for queue in ("left", "right")
                    for outcome in expected
                }
                if counted == {(q, o): n for q in ("left", "right") for o, n in expected.items()}:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"cluster figures never complete: {counted}")

            assert figures[("conveyor_workers", (("queue", "left"),))] == 1
            assert figures[("conveyor_workers", (("queue", "right"),))] == 1
            duration = (
                "conveyor_job_duration_seconds_count",
                (("queue", "left"), ("task", "m.ok")),
            )
            assert figures[duration] == OK_PER_QUEUE
            for queue in ("left", "right"):
                depth = ("conveyor_queue_depth", (("queue", queue), ("state", "available")))
                assert figures[depth] == 0

            own = samples(await scrape(f"http://127.0.0.1:{own_port}/metrics"))
            assert finished(own, task="m.ok", queue="left", outcome="completed") == OK_PER_QUEUE
            assert finished(own, task="m.ok", queue="right", outcome="completed") == 0
        finally:
            for process in (left, right, api):
                stop(process)


PACED = 30


async def test_rate_limit_waits_of_two_worker_processes_add_up_in_one_scrape(
    store_url: str,
) -> None:
    async with opened(build(store_url)) as app:
        await app.enqueue_many("m.paced", [{"n": n} for n in range(PACED)])
        ports = [free_port(), free_port()]
        api_port = free_port()
        workers = [
            start_worker(
                store_url,
                "--queues",
                "paced",
                "--poll-interval",
                "0.05",
                "--metrics-port",
                str(port),
                app=APP,
                lease_ttl=1.5,
            )
            for port in ports
        ]
        api = start_api(store_url, api_port)
        waits = ("conveyor_rate_limit_waits_total", (("task", "m.paced"),))
        completed = {"task": "m.paced", "queue": "paced", "outcome": "completed"}
        try:
            for _ in range(600):  # bounded: the jobs run at ten a second, then heartbeats
                cluster = samples(await scrape(f"http://127.0.0.1:{api_port}/metrics"))
                own = [samples(await scrape(f"http://127.0.0.1:{p}/metrics")) for p in ports]
                if finished(cluster, **completed) == PACED and cluster.get(waits, 0) == sum(
                    o.get(waits, 0) for o in own
                ):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"cluster figures never complete: {cluster}, {own}")
            # Every job but those the first claims took waited on the limit, counted once,
            # by whichever process claimed it.
            assert PACED - 2 <= cluster[waits] <= PACED
            assert all(o.get(waits, 0) > 0 for o in own), own
        finally:
            for process in (*workers, api):
                stop(process)


def enqueue_in_a_process_of_its_own(url: str, *args: str) -> None:
    """``conveyor enqueue ARGS``: a process that enqueues one job and exits."""
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "conveyor.cli", "--app", APP, "enqueue", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )


async def test_enqueues_of_every_process_add_up_in_one_scrape(store_url: str) -> None:
    enqueued = ("conveyor_jobs_enqueued_total", (("queue", "left"), ("task", "m.ok")))
    async with opened(build(store_url)) as app:
        await app.enqueue_many("m.ok", [{"n": n} for n in range(OK_PER_QUEUE)], queue="left")
        for _ in range(2):  # the second one finds the key taken: not counted
            enqueue_in_a_process_of_its_own(
                store_url,
                "m.ok",
                "--json",
                '{"n": 99}',
                "--queue",
                "left",
                "--idempotency-key",
                "k",
            )
        enqueue_in_a_process_of_its_own(store_url, "m.ok", "--json", '{"n": 98}', "--queue", "left")
        api_port = free_port()
        api = start_api(store_url, api_port)
        try:
            cluster = samples(await scrape(f"http://127.0.0.1:{api_port}/metrics"))
            await app.enqueue("m.ok", {"n": 97}, queue="left")
            again = samples(await scrape(f"http://127.0.0.1:{api_port}/metrics"))
        finally:
            stop(api)
    assert cluster[enqueued] == OK_PER_QUEUE + 2
    assert again[enqueued] == OK_PER_QUEUE + 3


async def test_failed_alert_deliveries_are_counted_in_every_scrape(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port nothing listens on: every attempt to post the alert is refused.
    monkeypatch.setenv("CONVEYOR_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    failures = ("conveyor_alert_delivery_failures_total", (("channel", "webhook"),))
    async with opened(build(store_url)) as app:
        await app.enqueue("m.bad", {"n": 1}, queue="left")  # fails for good: one alert
        own_port, api_port = free_port(), free_port()
        worker = start_worker(
            store_url, "--queues", "left", "--metrics-port", str(own_port), app=APP, lease_ttl=1.5
        )
        api = start_api(store_url, api_port)
        try:
            for _ in range(600):  # hang guard: the job fails, the post fails, a heartbeat
                cluster = samples(await scrape(f"http://127.0.0.1:{api_port}/metrics"))
                if cluster.get(failures, 0) >= 1:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"no failed delivery counted: {cluster}")
            own = samples(await scrape(f"http://127.0.0.1:{own_port}/metrics"))
        finally:
            for process in (worker, api):
                stop(process)
    assert own[failures] >= 1
