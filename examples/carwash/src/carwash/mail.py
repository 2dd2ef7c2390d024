"""Sending mail over SMTP (aiosmtplib) with each failure sorted into what it means.

One ``MailSession`` holds one SMTP connection for a chunk of recipients and sends one
message per recipient with explicit ``MAIL``/``RCPT``/``DATA`` steps, so that it knows how
far a failed message got:

- ``Bounced``: a permanent (5xx) refusal of this recipient or message — do not retry it;
- ``NotSent``: a transient refusal (4xx) or a failure before ``DATA`` — nothing was
  delivered, the message may be sent again later;
- ``Unknown``: the connection broke after the message was handed over but before the
  server answered — it may have been delivered, so it must not be sent again.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import aiosmtplib


DEFAULT_SMTP_URL = "smtp://127.0.0.1:8025"


class SendFailure(Exception):
    """A message that was not (known to be) delivered."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Bounced(SendFailure):
    """The server refused this recipient or message for good (5xx)."""


class NotSent(SendFailure):
    """Not delivered, and worth trying again later (4xx, or the connection failed first)."""


class Unknown(SendFailure):
    """The connection broke while the server held the message: it may have arrived."""


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where to send: parsed from ``smtp://[user:pass@]host:port`` (``smtps://`` for TLS
    from the start; ``?starttls=1`` to upgrade)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(f"CONVEYOR_SMTP_URL must look like smtp://host:port, got {url!r}")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
            start_tls="starttls=1" in parts.query,
        )


def _failure(exc: aiosmtplib.SMTPResponseException) -> SendFailure:
    text = f"{exc.code} {exc.message}".strip()
    return Bounced(text, exc.code) if 500 <= exc.code < 600 else NotSent(text, exc.code)


class MailSession:
    """One open SMTP connection; ``send`` delivers one message to one recipient."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self._client = client

    async def send(self, message: Message, *, sender: str, recipient: str) -> None:
        """Raises ``Bounced``, ``NotSent`` or ``Unknown``; returns once the server accepted."""
        await self.envelope(sender=sender, recipient=recipient)
        await self.data(message)

    async def envelope(self, *, sender: str, recipient: str) -> None:
        """``MAIL`` and ``RCPT``: nothing is delivered yet. Raises ``Bounced`` or ``NotSent``."""
        import aiosmtplib

        client = self._client
        try:
            await client.mail(sender)
            await client.rcpt(recipient)
        except aiosmtplib.SMTPResponseException as exc:
            await self.reset()
            raise _failure(exc) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise NotSent(f"connection failed before the message: {exc}") from exc

    async def data(self, message: Message) -> None:
        """``DATA`` after an ``envelope``: hands the message over. Raises ``Bounced``,
        ``NotSent`` (refused: nothing arrived) or ``Unknown`` (it may have arrived)."""
        import aiosmtplib

        try:
            await self._client.data(message.as_bytes())
        except aiosmtplib.SMTPResponseException as exc:
            # The server answered the DATA: it refused the message, so nothing arrived.
            await self.reset()
            raise _failure(exc) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise Unknown(f"connection lost while the server held the message: {exc}") from exc

    async def reset(self) -> None:
        """``RSET``: drop an envelope that will not get its message."""
        import aiosmtplib

        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await self._client.rset()


@contextlib.asynccontextmanager
async def open_session(target: SmtpTarget) -> AsyncIterator[MailSession]:
    """Connect (raising ``NotSent`` when that fails), yield a session, then QUIT."""
    import aiosmtplib  # on first send: loading the app need not import it

    client = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.use_tls,
        start_tls=target.start_tls or None,
        timeout=target.timeout,
    )
    try:
        await client.connect()
    except aiosmtplib.SMTPResponseException as exc:
        # A refused greeting is about the server, not a recipient: try again later.
        raise NotSent(f"{exc.code} {exc.message}", exc.code) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise NotSent(f"cannot connect to {target.host}:{target.port}: {exc}") from exc
    try:
        yield MailSession(client)
    finally:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.quit()
