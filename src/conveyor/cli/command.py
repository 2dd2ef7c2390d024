"""How every command runs: finding its app, running its coroutine, mapping errors to exit codes."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console

from conveyor.app import Conveyor
from conveyor.cli.loading import load_app
from conveyor.errors import (
    ConfigurationError,
    ConveyorError,
    InvalidArgument,
    PayloadInvalid,
    TaskNotFound,
)

T = TypeVar("T")
USAGE_ERRORS = (ConfigurationError, InvalidArgument, PayloadInvalid, TaskNotFound)
console = Console()
errors = Console(stderr=True)


def run(coro_fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run an async command and turn Conveyor errors into a message and exit code:
    2 for bad input (as for usage errors), 1 for anything else that failed."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(coro_fn(*args, **kwargs))
        except USAGE_ERRORS as exc:
            errors.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
            sys.exit(2)
        except ConveyorError as exc:
            errors.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
            sys.exit(1)

    return wrapper


def app_from(ctx: click.Context) -> Conveyor:
    try:
        return load_app(ctx.obj["app"], ctx.obj["database_url"])
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
