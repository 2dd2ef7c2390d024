"""Alert rules: turn job failures and worker events into incidents, messages and digests."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.alerts.delivery import Alert, Deliverer
from conveyor.alerts.incidents import IncidentClaims, MemoryIncidents, StoreIncidents

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.job import Job, JobError
    from conveyor.settings import Settings

FAILED = "job-failed"
RECYCLED = "worker-recycled-for-memory"


class Alerts:
    """The built-in rules of one process, sending through one ``Deliverer``. Incidents are
    keyed by (rule, subject): a task for failures, a worker for recycling."""

    def __init__(
        self,
        settings: Settings,
        *,
        deliverer: Deliverer | None = None,
        incidents: IncidentClaims | None = None,
        now: Any = None,
    ) -> None:
        self.settings = settings
        self.deliverer = deliverer or Deliverer(
            smtp_url=settings.smtp_url,
            mail_from=settings.alert_from,
            mail_to=[a.strip() for a in (settings.alert_email or "").split(",") if a.strip()],
            webhook_url=settings.alert_webhook_url,
        )
        self.incidents: IncidentClaims = incidents or MemoryIncidents()
        self.window = timedelta(seconds=settings.alert_digest_seconds)
        self._now = now or (lambda: datetime.now().astimezone())
        self._last: dict[tuple[str, str], str] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._failing: set[str] = set()

    def install(self, app: Conveyor) -> Alerts:
        """Register the failure and success hooks on ``app`` (the app's own hooks stay)."""
        app.on("failure")(self.on_failure)
        app.on("after")(self.on_success)
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
        """Send the digests whose window passed (called periodically)."""
        for rule, subject, folded in await self.incidents.flush_digests(self._now(), self.window):
            self._send_digest(rule, subject, folded)

    def start(self, interval: float = 30.0) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                await self.tick()

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
        self.deliverer.submit(
            Alert(
                f"[conveyor] digest: {rule} {subject} x{folded}",
                f"{folded} more occurrence(s) of {rule} for {subject} since the last message.\n"
                f"Latest:\n{last}",
            )
        )


async def start_alerts(app: Conveyor) -> Alerts | None:
    """Install and start the built-in alerts on ``app`` when a mail or webhook target is set
    (called by ``conveyor worker`` and ``conveyor serve``)."""
    alerts = Alerts(app.settings, incidents=StoreIncidents(await app.store()))  # type: ignore[arg-type]
    if not alerts.deliverer.enabled:
        return None
    alerts.install(app)
    alerts.start()
    return alerts
