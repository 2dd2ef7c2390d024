"""``conveyor queues list|pause|resume``: see queues and stop or restart claims from one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from conveyor.cli.command import console, run, with_app
from conveyor.cli.render import print_json

if TYPE_CHECKING:
    from rich.table import Table

    from conveyor.app import Conveyor
    from conveyor.queue import QueueInfo


def _age(age: timedelta | None) -> str:
    if age is None:
        return ""
    seconds = int(age.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def queues_table(queues: Sequence[QueueInfo]) -> Table:
    from rich.table import Table

    from conveyor.queue import QUEUE_COUNTED_STATES

    table = Table()
    for column in ("queue", "state", *QUEUE_COUNTED_STATES, "oldest waiting"):
        table.add_column(column, overflow="fold")
    for queue in queues:
        table.add_row(
            queue.name,
            "[yellow]paused[/]" if queue.paused else "active",
            *(str(getattr(queue, state)) for state in QUEUE_COUNTED_STATES),
            _age(queue.oldest_waiting_age),
        )
    return table


def _print_queue(queue: QueueInfo, as_json: bool) -> None:
    if as_json:
        print_json(queue.to_json())
    elif queue.paused:
        console().print(
            f"queue {queue.name} is paused: workers claim none of its jobs "
            f"({queue.available} available) until it is resumed"
        )
    else:
        console().print(f"queue {queue.name} is active ({queue.available} available)")


@click.group()
def queues() -> None:
    """See queues; pause and resume them."""


@queues.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@run
async def list_queues(ctx: click.Context, as_json: bool) -> None:
    """Every queue: those with jobs, those paused, those the app's tasks name."""
    listed = await with_app(ctx, lambda app: app.queues())
    if as_json:
        print_json([queue.to_json() for queue in listed])
    else:
        console().print(queues_table(listed))


def _queue_command(
    name: str, action: Callable[[Conveyor, str], Awaitable[QueueInfo]], help_text: str
) -> None:
    """``pause`` and ``resume``: one queue in, its state printed out."""

    @queues.command(name, help=help_text)
    @click.argument("name")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    @run
    async def command(ctx: click.Context, name: str, as_json: bool) -> None:
        _print_queue(await with_app(ctx, lambda app: action(app, name)), as_json)


_queue_command(
    "pause",
    lambda app, name: app.pause_queue(name),
    "Stop workers claiming from queue NAME; jobs keep arriving and wait (idempotent).",
)
_queue_command(
    "resume",
    lambda app, name: app.resume_queue(name),
    "Let workers claim from queue NAME again (idempotent).",
)
