"""Optional OpenTelemetry tracing (the ``conveyor[otel]`` extra): an enqueue span whose W3C
``traceparent`` is stored with each job, and an execution span in the worker that is its
child and links to it, across processes.

- ``conveyor enqueue <task>`` (producer), around ``enqueue`` / ``enqueue_many``:
  ``conveyor.task``, ``conveyor.queue``, ``conveyor.job_count``, ``conveyor.job_id`` (one job).
- ``conveyor run <task>`` (consumer), around each attempt in a worker: ``conveyor.job_id``,
  ``conveyor.task``, ``conveyor.queue``, ``conveyor.attempt``, ``conveyor.outcome``.

Tracing is on while a real tracer provider is configured: the global one
(``opentelemetry.trace.set_tracer_provider``) or one given to ``use_tracer_provider``.
Conveyor never imports OpenTelemetry itself before that: without the extra, or without a
configured provider, nothing of it is imported and nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from conveyor.job import Job
    from conveyor.store.base import Ack

P = ParamSpec("P")
R = TypeVar("R")

_given: TracerProvider | None = None


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Trace with ``provider`` instead of the global one (``None``: the global one again)."""
    global _given
    _given = provider


class _Lookup:
    """The global provider's tracer, looked up at most once a second while there is none
    (the lookup costs microseconds) and kept once there is one (OpenTelemetry sets the
    global provider only once)."""

    tracer: Tracer | None = None
    checked_at = float("-inf")


def _tracer() -> Tracer | None:
    """Conveyor's tracer while a real provider is configured; ``None`` otherwise."""
    if _given is not None:
        return _given.get_tracer("conveyor")
    if _Lookup.tracer is not None:
        return _Lookup.tracer
    # Configuring a provider imports opentelemetry.trace: until something did, there is
    # none, and Conveyor imports nothing (importing it can take a second on a busy host).
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    now = time.monotonic()
    if now - _Lookup.checked_at < 1.0:
        return None
    _Lookup.checked_at = now
    provider = trace.get_tracer_provider()
    if not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        _Lookup.tracer = provider.get_tracer("conveyor")
    return _Lookup.tracer


def enabled() -> bool:
    """Whether spans are recorded now (a real tracer provider is configured)."""
    return _tracer() is not None


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span active now, to store with the jobs being built."""
    if _tracer() is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def traced_enqueue(insert: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap the app's insert (``task, payloads, options, ...``) in
    an enqueue span; the jobs it builds take the span's context as their traceparent."""

    @functools.wraps(insert)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        tracer = _tracer()
        if tracer is None:
            return await insert(*args, **kwargs)
        with _enqueue_span(tracer, args) as span:
            outcome = await insert(*args, **kwargs)
            _set_job_ids(span, outcome)
            return outcome

    return wrapper


def traced_enqueue_sync(insert: Callable[P, R]) -> Callable[P, R]:
    """``traced_enqueue`` for the app's synchronous transactional enqueue."""

    @functools.wraps(insert)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        tracer = _tracer()
        if tracer is None:
            return insert(*args, **kwargs)
        with _enqueue_span(tracer, (*args[:2], [None])) as span:
            outcome = insert(*args, **kwargs)
            _set_job_ids(span, [outcome])
            return outcome

    return wrapper


@contextlib.contextmanager
def _enqueue_span(tracer: Tracer, args: tuple[Any, ...]) -> Iterator[Span]:
    from opentelemetry.trace import SpanKind

    # (self, task, payloads, options, ...): the insert's arguments (options: EnqueueOptions).
    task = args[1] if isinstance(args[1], str) else getattr(args[1], "name", str(args[1]))
    attributes: dict[str, Any] = {"conveyor.task": task, "conveyor.job_count": len(args[2])}
    if queue := getattr(args[3] if len(args) > 3 else None, "queue", None):
        attributes["conveyor.queue"] = queue
    with tracer.start_as_current_span(
        f"conveyor enqueue {task}", kind=SpanKind.PRODUCER, attributes=attributes
    ) as span:
        yield span


def _set_job_ids(span: Span, outcome: Any) -> None:
    jobs = [getattr(item, "job", item) for item in outcome or []]
    if len(jobs) == 1:
        span.set_attribute("conveyor.job_id", jobs[0].id)
        span.set_attribute("conveyor.queue", jobs[0].queue)


async def traced_run(job: Job, run: Awaitable[Ack | None]) -> Ack | None:
    """Await one attempt of ``job`` (``run``) inside its execution span: a child of the
    enqueue span stored with the job, with a link to it."""
    tracer = _tracer()
    if tracer is None:
        return await run
    from opentelemetry import trace
    from opentelemetry.trace import Link, SpanKind, StatusCode
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from conveyor.store.base import Failure

    parent = None
    links: list[Link] = []
    if job.traceparent:
        parent = TraceContextTextMapPropagator().extract({"traceparent": job.traceparent})
        context = trace.get_current_span(parent).get_span_context()
        if context.is_valid:
            links.append(Link(context))
    attributes: dict[str, Any] = {
        "conveyor.job_id": job.id,
        "conveyor.task": job.task,
        "conveyor.queue": job.queue,
        "conveyor.attempt": job.attempt,
    }
    with tracer.start_as_current_span(
        f"conveyor run {job.task}",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=links,
        attributes=attributes,
    ) as span:
        ack = await run
        if isinstance(ack, Failure):
            span.set_attribute("conveyor.outcome", "failed")
            span.set_status(StatusCode.ERROR, f"{ack.error.type}: {ack.error.message}")
        else:
            span.set_attribute("conveyor.outcome", "completed")
        return ack
