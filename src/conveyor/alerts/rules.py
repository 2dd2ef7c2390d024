"""Alert rules: turn job failures, worker events and cluster conditions into incidents,
messages, digests and resolutions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.alerts.conditions import (
    CONDITION_RULES,
    Condition,
    FailureRates,
    Thresholds,
    cleared,
    lagging_queues,
    unserved_queues,
)
from conveyor.alerts.delivery import Alert, Deliverer
from conveyor.alerts.incidents import IncidentClaims, MemoryIncidents, StoreIncidents
from conveyor.metrics.snapshot import read_snapshot

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.job import Job, JobError
    from conveyor.settings import Settings

log = logging.getLogger("conveyor.alerts")

FAILED = "job-failed"
RECYCLED = "worker-recycled-for-memory"


class Alerts:
    """The built-in rules of one process, sending through one ``Deliverer``. Incidents are
    keyed by (rule, subject): a task for failures and failure rates, a worker for
    recycling, a queue for lag and for waiting jobs without a live worker."""

    def __init__(
        self,
        settings: Settings,
        *,
        deliverer: Deliverer | None = None,
        incidents: IncidentClaims | None = None,
        now: Any = None,
        on_delivery_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.deliverer = deliverer or Deliverer(
            smtp_url=settings.smtp_url,
            mail_from=settings.alert_from,
            mail_to=[a.strip() for a in (settings.alert_email or "").split(",") if a.strip()],
            webhook_url=settings.alert_webhook_url,
            on_failure=on_delivery_failure,
        )
        self.incidents: IncidentClaims = incidents or MemoryIncidents()
        self.window = timedelta(seconds=settings.alert_digest_seconds)
        self._now = now or (lambda: datetime.now().astimezone())
        self._last: dict[tuple[str, str], str] = {}
        self._headline: dict[tuple[str, str], str] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._failing: set[str] = set()
        self._app: Conveyor | None = None
        self.rates = FailureRates(timedelta(seconds=settings.alert_failure_window_seconds))
        self.thresholds = Thresholds(
            lag_seconds=settings.alert_lag_seconds,
            failure_rate=settings.alert_failure_rate,
            failure_window=self.rates.window,
            failure_min_runs=settings.alert_failure_min_runs,
            unserved_grace=timedelta(seconds=settings.lease_ttl_seconds),
            public_url=settings.public_url,
        )

    def install(self, app: Conveyor) -> Alerts:
        """Register the failure and success hooks on ``app`` (the app's own hooks stay);
        ``tick`` then also checks the conditions of ``app``'s cluster."""
        app.on("failure")(self.on_failure)
        app.on("after")(self.on_success)
        self._app = app
        return self

    def link(self, job_id: int) -> str:
        return f"{self.settings.public_url.rstrip('/')}/jobs/{job_id}"

    async def on_failure(self, job: Job, error: JobError, will_retry: bool) -> None:
        if will_retry:
            return
        details = (
            f"Job {job.id} of task {job.task} (queue {job.queue}) failed for good "
            f"after attempt {error.attempt}.\n"
            f"Error: {error.type}: {error.message}\n"
            f"Job: {self.link(job.id)}\n"
        )
        self._last[(FAILED, job.task)] = details
        self._failing.add(job.task)
        seen = await self.incidents.occur(FAILED, job.task, self._now(), self.window)
        if seen.claim == "open":
            self.deliverer.submit(
                Alert(f"[conveyor] task {job.task}: job {job.id} failed", details)
            )
        elif seen.claim == "digest":
            self._send_digest(FAILED, job.task, seen.folded)

    async def on_success(self, job: Job, result: Any) -> None:
        # Only a process that saw the task fail asks the store: no statement per job.
        if job.task not in self._failing:
            return
        self._failing.discard(job.task)
        if await self.incidents.resolve(FAILED, job.task):
            self.deliverer.submit(
                Alert(
                    f"[conveyor] resolved: task {job.task}",
                    f"Task {job.task} completed job {job.id} again.\nJob: {self.link(job.id)}\n",
                )
            )

    async def worker_recycled(self, worker_id: str, rss_mb: float, limit_mb: int) -> None:
        """The memory watcher stopped ``worker_id`` at ``rss_mb`` (over ``limit_mb``)."""
        details = (
            f"Worker {worker_id} was recycled at {rss_mb:.0f} MB "
            f"(limit {limit_mb} MB); the supervisor starts a fresh process.\n"
        )
        self._last[(RECYCLED, worker_id)] = details
        seen = await self.incidents.occur(RECYCLED, worker_id, self._now(), self.window)
        if seen.claim == "open":
            self.deliverer.submit(Alert(f"[conveyor] worker {worker_id} recycled", details))

    async def tick(self) -> None:
        """Send the digests whose window passed, then check the conditions (called
        periodically by every worker process; the incidents decide who sends)."""
        if self._app is not None:  # first: a digest then carries the latest reading
            await self.check_conditions(self._app)
        for rule, subject, folded in await self.incidents.flush_digests(self._now(), self.window):
            self._send_digest(rule, subject, folded)

    async def check_conditions(self, app: Conveyor) -> list[Condition]:
        """Raise an incident for each condition that holds, resolve the open ones that no
        longer hold; the conditions found. The open incidents are listed before the
        cluster is read: an incident another process opened after that listing is judged
        at the next check, against a newer reading than the one that opened it."""
        opened = [i for i in await self.incidents.open_incidents() if i[0] in CONDITION_RULES]
        snapshot = await read_snapshot(app)
        found = [
            *self.rates.over(snapshot, self.thresholds),
            *lagging_queues(snapshot, self.thresholds),
            *unserved_queues(snapshot, self.thresholds),
        ]
        for condition in found:
            key = (condition.rule, condition.subject)
            self._last[key] = condition.details
            self._headline[key] = condition.headline
            seen = await self.incidents.occur(*key, self._now(), self.window)
            if seen.claim == "open":
                self.deliverer.submit(Alert(f"[conveyor] {condition.headline}", condition.details))
            elif seen.claim == "digest":
                self._send_digest(*key, seen.folded)
        holding = {(c.rule, c.subject) for c in found}
        for rule, subject in opened:
            if (rule, subject) not in holding and await self.incidents.resolve(rule, subject):
                title, text = cleared(rule, subject)
                self.deliverer.submit(Alert(f"[conveyor] resolved: {title}", text))
        return found

    def start(self, interval: float | None = None) -> None:
        """Tick every ``interval`` seconds (default: the ``alert_check_seconds`` setting)."""
        interval = interval or self.settings.alert_check_seconds

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.tick()
                except Exception:  # the store may be away for a while: check again later
                    log.exception("alert check failed; retrying at the next interval")

        self._ticker = asyncio.get_running_loop().create_task(loop())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        with contextlib.suppress(TimeoutError):  # send what is queued, but never hang a stop
            await asyncio.wait_for(self.deliverer.drain(), timeout=10.0)
        await self.deliverer.close()

    def _send_digest(self, rule: str, subject: str, folded: int) -> None:
        last = self._last.get((rule, subject), "")
        headline = self._headline.get((rule, subject))
        if rule in CONDITION_RULES and headline is not None:
            # A condition recurs at every check of every process: its count says little.
            self.deliverer.submit(
                Alert(f"[conveyor] still: {headline}", f"Still true at the latest check.\n{last}")
            )
            return
        self.deliverer.submit(
            Alert(
                f"[conveyor] digest: {rule} {subject} x{folded}",
                f"{folded} more occurrence(s) of {rule} for {subject} since the last message.\n"
                f"Latest:\n{last}",
            )
        )


async def start_alerts(
    app: Conveyor, *, on_delivery_failure: Callable[[str], None] | None = None
) -> Alerts | None:
    """Install and start the built-in alerts on ``app`` when a mail or webhook target is set
    (called by ``conveyor worker`` and ``conveyor serve``, which pass their worker's
    ``Tally.alert_failed`` as ``on_delivery_failure``: see ``Deliverer``)."""
    alerts = Alerts(
        app.settings,
        incidents=StoreIncidents(await app.store()),
        on_delivery_failure=on_delivery_failure,
    )
    if not alerts.deliverer.enabled:
        return None
    alerts.install(app)
    alerts.start()
    return alerts
