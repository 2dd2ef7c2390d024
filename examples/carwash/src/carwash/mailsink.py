"""A local SMTP sink (aiosmtpd) that keeps every mail it receives, for the demo and tests.

It accepts everything unless told otherwise: ``fail_transiently(n)`` answers the next
``n`` recipients with ``451`` (the server is busy: a client should retry later), and
``reject(address)`` answers that address with ``550`` (no such mailbox: a bounce). Mail is
kept in memory (``messages()``) and, with ``directory``, also written there as ``.eml``
files that ``read_mailbox`` lists — which is how the demo's API shows received mail
whichever process runs the sink.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from conveyor import Conveyor

log = logging.getLogger("carwash.mailsink")


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One message as the sink received it."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    headers: dict[str, str]
    body: str
    received_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": list(self.recipients),
            "subject": self.subject,
            "headers": self.headers,
            "body": self.body,
            "received_at": self.received_at.isoformat(),
        }


def parse_mail(mail_id: str, raw: bytes, received_at: datetime) -> ReceivedMail:
    """Parse with the ``compat32`` policy and decode only what is shown: sixty times
    faster than ``policy.default``, which builds a header object for every header (a test
    reads thousands of mails)."""
    message = message_from_bytes(raw, policy=policy.compat32)
    headers = {key: _decoded(value) for key, value in message.items()}
    parts = {p.get_content_type(): p for p in reversed(list(message.walk()))}  # first wins
    part = parts.get("text/plain") or parts.get("text/html")
    body = ""
    if part is not None:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            body = payload.decode(part.get_content_charset() or "utf-8", "replace")
    envelope = headers.get("X-Envelope-To", "")
    recipients = tuple(a.strip() for a in envelope.split(",") if a.strip())
    return ReceivedMail(
        id=mail_id,
        sender=headers.get("From", ""),
        recipients=recipients or (headers.get("To", ""),),
        subject=headers.get("Subject", ""),
        headers=headers,
        body=body,
        received_at=received_at,
    )


def _decoded(value: Any) -> str:
    """A header's text with RFC 2047 encoded words decoded and folding undone."""
    try:
        text = str(make_header(decode_header(str(value))))
    except (HeaderParseError, LookupError, UnicodeDecodeError):
        text = str(value)
    return " ".join(text.split())


def read_mailbox(directory: Path, *, limit: int = 50) -> list[ReceivedMail]:
    """The newest ``limit`` mails a sink wrote to ``directory``, newest first."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    return [
        parse_mail(path.stem, path.read_bytes(), datetime.fromtimestamp(path.stat().st_mtime, UTC))
        for path in files
    ]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _Handler:
    """aiosmtpd's hooks; runs on the controller's own thread and event loop."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        verdict = self.sink._verdict(address)
        if verdict is None:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return verdict

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink._keep(tuple(envelope.rcpt_tos), envelope.original_content)
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on ``host:port`` (a free port when 0) keeping what it receives."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        directory: Path | None = None,
        keep_in_memory: int = 100_000,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.directory = directory
        self._keep_in_memory = keep_in_memory
        self._lock = threading.Lock()
        # Raw, parsed only when read: parsing on the sink's thread would slow every client.
        self._messages: list[tuple[str, bytes, datetime]] = []
        self._transient_left = 0
        self._rejected: set[str] = set()
        self._refusals = 0
        self._numbers = itertools.count(1)
        self._received = 0
        self._controller = Controller(_Handler(self), hostname=host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def fail_transiently(self, count: int) -> None:
        """Answer the next ``count`` recipients with ``451`` (try again later)."""
        with self._lock:
            self._transient_left = count

    def reject(self, address: str) -> None:
        """Answer ``address`` with ``550`` from now on."""
        with self._lock:
            self._rejected.add(address.lower())

    @property
    def transient_refusals(self) -> int:
        """How many recipients were answered ``451`` so far."""
        with self._lock:
            return self._refusals

    @property
    def received(self) -> int:
        """How many mails were received so far (cheap: nothing is parsed)."""
        with self._lock:
            return self._received

    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            kept = list(self._messages)
        return [parse_mail(mail_id, raw, at) for mail_id, raw, at in kept]

    def _verdict(self, address: str) -> str | None:
        with self._lock:
            if address.lower() in self._rejected:
                return "550 5.1.1 No such mailbox here"
            if self._transient_left > 0:
                self._transient_left -= 1
                self._refusals += 1
                return "451 4.3.0 Busy, try again later"
        return None

    def _keep(self, recipients: tuple[str, ...], raw: bytes) -> None:
        now = datetime.now(UTC)
        number = next(self._numbers)
        mail_id = f"{now:%Y%m%dT%H%M%S%f}-{number:08d}"
        raw = f"X-Envelope-To: {', '.join(recipients)}\r\n".encode() + raw
        with self._lock:
            self._received += 1
            self._messages.append((mail_id, raw, now))
            del self._messages[: -self._keep_in_memory]
        if self.directory is not None:
            (self.directory / f"{mail_id}.eml").write_bytes(raw)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[MailSink]:
        """Run the sink for the duration of an ``async with``."""
        self.start()
        try:
            yield self
        finally:
            self.stop()


DEMO_HOST, DEMO_PORT = "127.0.0.1", 8025


@contextlib.asynccontextmanager
async def mail_sink_service(app: Conveyor) -> AsyncIterator[None]:
    """The demo's sink on ``127.0.0.1:8025``, keeping mail under ``<data_dir>/mail``
    (registered with ``app.add_service`` when no ``CONVEYOR_SMTP_URL`` is set)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection
    sink = MailSink(DEMO_HOST, DEMO_PORT, directory=mailbox_dir(app))
    try:
        sink.start()
    except (OSError, RuntimeError) as exc:
        log.warning("mail sink not started on %s:%s (%s)", DEMO_HOST, DEMO_PORT, exc)
        yield
        return
    log.info("mail sink on %s, keeping mail in %s", sink.url, sink.directory)
    try:
        yield
    finally:
        sink.stop()


def mailbox_dir(app: Conveyor) -> Path:
    return app.settings.data_dir / "mail"
