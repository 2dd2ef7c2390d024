"""Load a module that needs an optional extra, or say which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

import click

# The top-level packages each extra brings; a missing one names the extra to install.
EXTRA_PACKAGES: dict[str, frozenset[str]] = {
    "api": frozenset({"fastapi", "starlette", "uvicorn", "multipart", "jinja2"}),
    "otel": frozenset({"opentelemetry"}),
    "metrics": frozenset({"prometheus_client"}),
}


def load(module: str, *, command: str, extra: str) -> ModuleType:
    """Import ``module``; if a package of ``extra`` is missing, fail with the install line."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in EXTRA_PACKAGES.get(extra, frozenset()):
            raise
        raise click.ClickException(
            f"{command} needs the {extra.upper()} extra: pip install 'conveyor[{extra}]'"
            f" ({missing} is not installed)"
        ) from error
