"""An app for the tracing tests. In a worker subprocess started with ``OTEL_SPANS_FILE``
it records spans with the SDK's in-memory exporter and writes them there as JSON at exit."""

from __future__ import annotations

import atexit
import json
import os
from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor


class Car(BaseModel):
    plate: str


async def wash(payload: Car) -> str:
    return payload.plate


def build(database_url: str | None = None) -> Conveyor:
    conveyor = Conveyor(database_url)
    conveyor.task(name="otel.wash", queue="traced")(wash)
    return conveyor


def span_record(span: Any) -> dict[str, Any]:
    """What the tests compare of a finished SDK span."""
    return {
        "name": span.name,
        "trace_id": span.context.trace_id,
        "span_id": span.context.span_id,
        "parent_span_id": span.parent.span_id if span.parent else None,
        "links": [[link.context.trace_id, link.context.span_id] for link in span.links],
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
    }


def _record_to(path: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    def dump() -> None:
        with open(path, "w") as out:
            json.dump([span_record(s) for s in exporter.get_finished_spans()], out)

    atexit.register(dump)


if os.environ.get("OTEL_SPANS_FILE"):
    _record_to(os.environ["OTEL_SPANS_FILE"])
app = build()
