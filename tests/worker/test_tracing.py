"""OpenTelemetry in one process: the request that enqueues, the enqueue span, and the run
span of a worker task; and without the SDK, no OpenTelemetry module is imported at all."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from conveyor import Conveyor, tracing
from conveyor.worker.worker import Worker, WorkerOptions
from tests.e2e.processes import ROOT


class Car(BaseModel):
    plate: str


async def wash(payload: Car) -> str:
    if payload.plate == "JAM":
        raise RuntimeError("brush jammed")
    return payload.plate


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    memory = InMemorySpanExporter()
    own = TracerProvider()
    own.add_span_processor(SimpleSpanProcessor(memory))
    tracing.use_tracer_provider(own)
    try:
        yield own, memory
    finally:
        tracing.use_tracer_provider(None)
        own.shutdown()


def named(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


async def test_each_run_span_is_a_child_of_its_enqueue_span_and_records_a_failure(
    store_url: str, provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    own, memory = provider
    app = Conveyor(store_url)
    app.task(name="wash", max_attempts=1)(wash)
    with own.get_tracer("web").start_as_current_span("POST /wash") as request:
        ok = await app.enqueue("wash", Car(plate="CW-1"))
    many = await app.enqueue_many("wash", [Car(plate="JAM"), Car(plate="CW-2")])
    await Worker(app, WorkerOptions(max_jobs=3, poll_interval=timedelta(seconds=0.05))).run()
    await app.close()

    spans = memory.get_finished_spans()
    enqueues = named(spans, "conveyor enqueue")
    assert len(enqueues) == 2
    first, batch = sorted(enqueues, key=lambda s: s.start_time or 0)
    assert first.parent is not None
    assert first.parent.span_id == request.get_span_context().span_id
    assert batch.attributes is not None and batch.attributes["conveyor.job_count"] == 2

    runs = {
        s.attributes["conveyor.job_id"]: s for s in named(spans, "conveyor run") if s.attributes
    }
    assert set(runs) == {ok.id, *(job.id for job in many)}
    for job_id, enqueue in ((ok.id, first), (many[0].id, batch), (many[1].id, batch)):
        run = runs[job_id]
        assert run.parent is not None and run.parent.span_id == enqueue.context.span_id
        assert run.context.trace_id == enqueue.context.trace_id
        assert [link.context.span_id for link in run.links] == [enqueue.context.span_id]
    jammed = runs[many[0].id]
    assert jammed.status.status_code.name == "ERROR"
    assert jammed.status.description == "RuntimeError: brush jammed"
    assert runs[ok.id].attributes is not None
    assert runs[ok.id].attributes["conveyor.outcome"] == "completed"


def test_without_the_sdk_nothing_of_opentelemetry_is_imported(tmp_path: object) -> None:
    """A run with OpenTelemetry hidden, as when the extra is not installed: jobs are
    enqueued and run, and no ``opentelemetry`` module was imported."""
    script = textwrap.dedent(
        f"""
        import asyncio, importlib.abc, sys
        from datetime import timedelta

        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(name)
                return None

        sys.meta_path.insert(0, Hide())
        from pydantic import BaseModel
        from conveyor import Conveyor
        from conveyor.worker.worker import Worker, WorkerOptions

        class Empty(BaseModel):
            pass

        async def noop(payload: Empty) -> None:
            return None

        async def main():
            app = Conveyor("sqlite:///{tmp_path}/t.db")
            app.task(name="noop")(noop)
            job = await app.enqueue("noop", {{}})
            await Worker(app, WorkerOptions(max_jobs=1)).run()
            assert (await app.get_job(job.id)).traceparent is None
            await app.close()

        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
