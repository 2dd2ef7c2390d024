"""Flow control declared on a task: rate limits, concurrency limits per key, fairness across
keys and uniqueness windows - parsed once at ``@app.task``, applied to each job at enqueue.

The limits are copied onto each job row (the store enforces them at claim time, across
every worker sharing the store), so they hold whichever process claims the job::

    @app.task(queue="email",
              rate_limit="20/s", rate_key=lambda p: p.tenant_id,     # per-tenant bucket
              fairness_key=lambda p: p.tenant_id)                     # tenants interleave
    async def send_email(payload: Email, ctx: JobContext) -> None: ...

    @app.task(concurrency_key=lambda p: p.tenant_id, concurrency_limit=1)
    async def financial_sync(payload: Sync, ctx: JobContext) -> None: ...

    @app.task(unique_for=timedelta(minutes=10), unique_key=lambda p: p.tenant_id)
    async def refresh_stats(payload: Tenant) -> None: ...

A job waiting for a token or a free slot is not claimed at all: no attempt is counted and
the worker meanwhile serves everything else.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.errors import ConfigurationError

KeyFn = Callable[[Any], Any]
_RATE = re.compile(
    r"^\s*(?P<count>\d+(\.\d+)?)\s*/\s*(?P<unit>s|sec|second|m|min|minute|h|hour)\s*$"
)
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_UNIT_SECONDS |= {"h": 3600, "hour": 3600}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` starts per ``period_seconds``, as in ``"20/s"``, ``"100/m"``, ``"1000/h"``."""

    count: float
    period_seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text)
        if match is None or float(match["count"]) <= 0:
            raise ConfigurationError(
                f"invalid rate_limit {text!r}: expected e.g. '20/s', '100/m' or '1000/h'"
            )
        return cls(float(match["count"]), _UNIT_SECONDS[match["unit"]])

    @property
    def per_second(self) -> float:
        return self.count / self.period_seconds


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """A task's flow control; every field defaults to "none".

    Attributes:
        rate: most starts per period across the cluster (``rate_limit="20/s"``).
        rate_burst: starts allowed at once after an idle spell (default: one second's
            worth of the rate, at least 1): any 1-second window sees at most
            ``rate per second + burst`` starts.
        rate_key: per-key buckets from the payload (default: one bucket for the task).
        concurrency_limit: most running jobs per concurrency key, cluster-wide.
        concurrency_key: the key from the payload (default: the task itself).
        fairness_key: claims interleave jobs of different keys round-robin.
        unique_for: at most one job per unique key per window of this length; an enqueue
            inside the window returns the job that holds it (windows are aligned to the
            epoch: ``unique_for=10 min`` means 10:00-10:10, 10:10-10:20, ...).
        unique_key: the uniqueness key from the payload (default: the whole payload).
    """

    rate: Rate | None = None
    rate_burst: float | None = None
    rate_key: KeyFn | None = None
    concurrency_limit: int | None = None
    concurrency_key: KeyFn | None = None
    fairness_key: KeyFn | None = None
    unique_for: timedelta | None = None
    unique_key: KeyFn | None = None

    def __post_init__(self) -> None:
        if self.concurrency_key is not None and self.concurrency_limit is None:
            raise ConfigurationError("concurrency_key needs a concurrency_limit")
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            raise ConfigurationError("concurrency_limit must be at least 1")
        if self.rate is None and (self.rate_key is not None or self.rate_burst is not None):
            raise ConfigurationError("rate_key and rate_burst need a rate_limit")
        if self.rate_burst is not None and self.rate_burst < 1:
            raise ConfigurationError("rate_burst must be at least 1")
        if self.unique_for is not None and self.unique_for <= timedelta(0):
            raise ConfigurationError("unique_for must be a positive duration")
        if self.unique_key is not None and self.unique_for is None:
            raise ConfigurationError("unique_key needs unique_for")

    @property
    def burst(self) -> float | None:
        if self.rate is None:
            return None
        return self.rate_burst or max(1.0, math.ceil(self.rate.per_second))

    @property
    def shapes_jobs(self) -> bool:
        """Whether jobs carry anything from these options (keys, limits, uniqueness)."""
        return not (
            self.rate is None
            and self.concurrency_limit is None
            and self.fairness_key is None
            and self.unique_for is None
        )

    def job_fields(self, task: str, payload: Any) -> dict[str, Any]:
        """The flow columns of one job of ``task`` with this (validated) payload."""
        fields: dict[str, Any] = {}
        if self.concurrency_limit is not None:
            key = task if self.concurrency_key is None else _key(self.concurrency_key, payload)
            fields["concurrency_key"] = f"{task}:{key}" if self.concurrency_key else key
            fields["concurrency_limit"] = self.concurrency_limit
        if self.rate is not None:
            key = "" if self.rate_key is None else f":{_key(self.rate_key, payload)}"
            fields["rate_key"] = f"{task}{key}"
            fields["rate_per_second"] = self.rate.per_second
            fields["rate_burst"] = self.burst
        if self.fairness_key is not None:
            fields["fairness_key"] = _key(self.fairness_key, payload)
        return fields

    def unique_idempotency_key(self, payload: Any, now: datetime) -> str | None:
        """The idempotency key that makes the job unique in its window, or ``None``."""
        if self.unique_for is None:
            return None
        if self.unique_key is None:
            dumped = json.dumps(payload.model_dump(mode="json"), sort_keys=True)
            key = hashlib.sha256(dumped.encode()).hexdigest()[:32]
        else:
            key = _key(self.unique_key, payload)
        window = self.unique_for.total_seconds()
        start = math.floor((now - _EPOCH).total_seconds() / window) * window
        opened = (_EPOCH + timedelta(seconds=start)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"unique:{key}@{opened}"[:255]


def _key(fn: KeyFn, payload: Any) -> str:
    value = fn(payload)
    if value is None:
        raise ConfigurationError("a flow-control key function returned None")
    return str(value)
