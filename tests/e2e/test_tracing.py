"""OpenTelemetry across processes: the span of an enqueue in this process is the parent of,
and is linked from, the execution span a worker subprocess records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conveyor import JobState, tracing
from tests.e2e.otel_app import Car, build, span_record
from tests.e2e.processes import ROOT, eventually, opened


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Spans of this process, recorded by a provider of the test's own (not the global)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.use_tracer_provider(provider)
    try:
        yield memory
    finally:
        tracing.use_tracer_provider(None)
        provider.shutdown()


async def test_the_worker_process_run_span_is_a_child_of_and_links_to_the_enqueue_span(
    store_url: str, tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    spans_file = tmp_path / "spans.json"
    async with opened(build(store_url)) as app:
        assert tracing.enabled()
        job = await app.enqueue("otel.wash", Car(plate="CW-1"))
        (enqueue,) = [span_record(s) for s in exporter.get_finished_spans()]
        assert enqueue["name"] == "conveyor enqueue otel.wash"
        assert enqueue["attributes"]["conveyor.job_id"] == job.id
        stored = await app.get_job(job.id)
        assert stored.traceparent is not None
        assert stored.traceparent.startswith(
            f"00-{enqueue['trace_id']:032x}-{enqueue['span_id']:016x}-"
        )

        env = {
            **os.environ,
            "CONVEYOR_DATABASE_URL": store_url,
            "PYTHONPATH": str(ROOT),
            "OTEL_SPANS_FILE": str(spans_file),
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli", "--app", "tests.e2e.otel_app:app", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:

            async def done() -> bool:
                return (await app.get_job(job.id)).state is JobState.COMPLETED

            await eventually(done)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err.decode()

    (run,) = [s for s in json.loads(spans_file.read_text()) if s["name"].startswith("conveyor run")]
    assert run["name"] == "conveyor run otel.wash"
    assert run["trace_id"] == enqueue["trace_id"]
    assert run["parent_span_id"] == enqueue["span_id"]
    assert run["links"] == [[enqueue["trace_id"], enqueue["span_id"]]]
    assert run["attributes"]["conveyor.job_id"] == job.id
    assert run["attributes"]["conveyor.outcome"] == "completed"
    assert run["status"] == "UNSET"
