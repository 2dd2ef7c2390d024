"""Alert delivery: mail and webhook from a background task with a bounded queue and backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

log = logging.getLogger("conveyor.alerts")


@dataclass(frozen=True)
class Alert:
    """One message: a subject line and a plain-text body (the webhook posts both as text)."""

    subject: str
    text: str


class Deliverer:
    """Sends alerts without ever blocking the caller: ``submit`` puts on a bounded queue
    (dropping, with a log line, when full) and one task delivers, retrying with backoff.
    Each failed attempt calls ``on_failure(channel)`` (``"email"`` or ``"webhook"``): a
    worker counts them in its tally, which carries them to every ``/metrics``."""

    def __init__(
        self,
        *,
        smtp_url: str | None,
        mail_from: str,
        mail_to: Sequence[str],
        webhook_url: str | None,
        max_queued: int = 1000,
        attempts: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.smtp_url = smtp_url
        self.mail_from = mail_from
        self.mail_to = list(mail_to)
        self.webhook_url = webhook_url
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.failures = 0
        """Failed delivery attempts in this process."""
        self.on_failure = on_failure
        self.dropped = 0
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=max_queued)
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool((self.smtp_url and self.mail_to) or self.webhook_url)

    def submit(self, alert: Alert) -> None:
        """Queue ``alert`` for delivery; never waits."""
        if not self.enabled:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("alert queue full; dropped alert %r", alert.subject)

    async def drain(self) -> None:
        """Wait until every queued alert was delivered or given up (tests, shutdown)."""
        await self._queue.join()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                channels: list[str] = []
                if self.smtp_url and self.mail_to:
                    channels.append("email")
                if self.webhook_url:
                    channels.append("webhook")
                await asyncio.gather(*(self._deliver(c, alert) for c in channels))
            finally:
                self._queue.task_done()

    async def _deliver(self, channel: str, alert: Alert) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                if channel == "email":
                    await self._mail(alert)
                else:
                    await self._post(alert)
                return
            except Exception as exc:
                self.failures += 1
                if self.on_failure is not None:
                    self.on_failure(channel)
                log.warning(
                    "alert %s delivery failed (attempt %d of %d): %s",
                    channel,
                    attempt,
                    self.attempts,
                    exc,
                )
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        log.error("alert %s delivery gave up: %r", channel, alert.subject)

    async def _mail(self, alert: Alert) -> None:
        import aiosmtplib

        assert self.smtp_url is not None
        url = urlsplit(self.smtp_url)
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = ", ".join(self.mail_to)
        message["Subject"] = alert.subject
        message.set_content(alert.text)
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "127.0.0.1",
            port=url.port or 25,
            username=url.username,
            password=url.password,
            timeout=self.timeout,
        )

    async def _post(self, alert: Alert) -> None:
        import httpx

        assert self.webhook_url is not None
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(
                self.webhook_url, json={"text": f"{alert.subject}\n{alert.text}"}
            )
            response.raise_for_status()
