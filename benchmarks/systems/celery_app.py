"""The Celery app of the benchmark: Redis broker, Redis result backend (its store of
outcomes, which the harness counts). Broker and backend URLs come from the environment."""

from __future__ import annotations

import os
import time

from celery import Celery

from benchmarks.systems.latency import record_start

app = Celery(
    "bench",
    broker=os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("BENCH_CELERY_BACKEND", "redis://127.0.0.1:6379/1"),
)
app.conf.update(
    task_default_queue="bench",
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    # Celery's optimisation guide: a high prefetch for many short tasks.
    worker_prefetch_multiplier=int(os.environ.get("BENCH_CELERY_PREFETCH", "256")),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")
def noop(i: int = 0) -> None:
    return None


@app.task(name="sleep")
def sleep(i: int = 0) -> None:
    time.sleep(0.01)  # Celery tasks are synchronous; the thread pool overlaps them


@app.task(name="latency")
def latency(sent_at: float) -> None:
    record_start(sent_at)
