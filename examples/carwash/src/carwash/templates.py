"""Campaign templates: a subject and a body in sandboxed Jinja2, compiled once per chunk and
rendered into one message per recipient."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

SENDER = "news@carwash.example"
SAMPLE = {
    "customer": {"name": "Ana", "email": "ana@example.com", "last_wash_at": None},
    "tenant": {"name": "Sparkle Wash"},
}
"""What a template is test-rendered with when a campaign is requested."""
# Readable bodies on the wire (quoted-printable, not base64), UTF-8 for any name.
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP


MAX_LOOP_STEPS = 10_000
"""Steps of ``range`` one rendering may take, summed over all its loops, nested or not."""
MAX_OUTPUT = 100_000
"""Characters one rendering may produce, and the longest string ``*`` may build."""


@functools.cache
def _environment() -> SandboxedEnvironment:
    # Imported on first use: loading the app (every CLI command) need not import Jinja2.
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from carwash.template_limits import bounded_environment

    return bounded_environment(
        SandboxedEnvironment, StrictUndefined, max_steps=MAX_LOOP_STEPS, max_output=MAX_OUTPUT
    )


def compile_template(text: str) -> Template:
    """A campaign's subject or body as a sandboxed Jinja2 template (undefined names fail;
    loop steps, repetition and output are bounded)."""
    return _environment().from_string(text)


def render_bounded(template: Template, context: dict[str, Any]) -> str:
    """``template`` rendered with its output bounded by ``MAX_OUTPUT`` (a TemplateError
    beyond it) and its loop steps counted afresh."""
    from carwash.template_limits import render_within

    return render_within(template, context, max_output=MAX_OUTPUT)


def template_error() -> type[Exception]:
    from jinja2 import TemplateError

    return TemplateError


class RenderFailed(Exception):
    """A campaign's template does not render for one recipient."""


class Templates:
    """A campaign's subject and body, compiled once per chunk, rendered per recipient."""

    def __init__(self, campaign: dict[str, Any]) -> None:
        self.campaign = campaign
        self.sender = formataddr((campaign["tenant_name"], SENDER))
        self.error: str | None = None
        try:
            self.subject = compile_template(campaign["subject"])
            self.body = compile_template(campaign["body_template"])
        except template_error() as exc:
            self.error = f"template: {exc}"

    def render(self, recipient: dict[str, Any]) -> Message:
        """The message for one recipient. Built with the ``compat32`` classes, which do
        not re-parse every header as they are set: five times cheaper than
        ``EmailMessage``, and this runs once per recipient on the worker's event loop."""
        if self.error is not None:
            raise RenderFailed(self.error)
        try:
            return self._render(recipient)
        except template_error() as exc:
            raise RenderFailed(f"template: {exc}") from exc

    def _render(self, recipient: dict[str, Any]) -> Message:
        campaign = self.campaign
        context = {
            "customer": {
                "name": recipient["name"],
                "email": recipient["email"],
                "last_wash_at": recipient["last_wash_at"],
            },
            "tenant": {"name": campaign["tenant_name"]},
        }
        message = Message()
        message["MIME-Version"] = "1.0"
        message.set_payload(render_bounded(self.body, context), UTF8_QP)  # text/plain; utf-8
        message["From"] = self.sender
        message["To"] = recipient["email"]
        # One line, whatever the data held: a line break would end the header.
        subject = " ".join(render_bounded(self.subject, context).split())
        message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
        message["Date"] = format_datetime(datetime.now(UTC))
        # One stable id per campaign and customer, so a mail system downstream can drop dups.
        message["Message-ID"] = f"<c{campaign['id']}.r{recipient['customer_id']}@carwash.example>"
        message["X-Carwash-Campaign"] = str(campaign["id"])
        return message
