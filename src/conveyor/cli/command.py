"""How every command runs: finding its app, reading its JSON payload, running its coroutine,
mapping errors to exit codes."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from conveyor.cli.startup import startup_over
from conveyor.errors import (
    ConfigurationError,
    ConveyorError,
    InvalidArgument,
    PayloadInvalid,
    TaskNotFound,
)

if TYPE_CHECKING:
    from rich.console import Console

    from conveyor.app import Conveyor

T = TypeVar("T")
USAGE_ERRORS = (ConfigurationError, InvalidArgument, PayloadInvalid, TaskNotFound)


# Made on first use: rich is slow to import, and `conveyor worker` never prints with it.
@functools.cache
def console() -> Console:
    """The console commands print their output to (standard output)."""
    from rich.console import Console

    return Console()


@functools.cache
def error_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def run(coro_fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run an async command and turn Conveyor errors into a message and exit code:
    2 for bad input (as for usage errors), 1 for anything else that failed."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(coro_fn(*args, **kwargs))
        except USAGE_ERRORS as exc:
            error_console().print(f"[red]error:[/] {exc}", markup=True, highlight=False)
            sys.exit(2)
        except ConveyorError as exc:
            error_console().print(f"[red]error:[/] {exc}", markup=True, highlight=False)
            sys.exit(1)

    return wrapper


def app_from(ctx: click.Context) -> Conveyor:
    """The command's app, imported from ``--app``; the process's start-up ends with it."""
    from conveyor.cli.loading import load_app

    try:
        return load_app(ctx.obj["app"], ctx.obj["database_url"])
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        startup_over()


async def with_app(ctx: click.Context, use: Callable[[Conveyor], Awaitable[T]]) -> T:
    """Load the command's app, run ``use`` on it, and close the app whatever happens."""
    app = app_from(ctx)
    try:
        return await use(app)
    finally:
        await app.close()


def parse_payload(text: str) -> dict[str, Any]:
    """A job payload given on the command line: it must be a JSON object."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument("payload", f"not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidArgument("payload", "must be a JSON object")
    return payload
