"""Finding the user's Conveyor app from ``--app module:attribute``."""

from __future__ import annotations

import importlib
import os
import sys

from conveyor.app import Conveyor
from conveyor.bulk import allow_collector_pause
from conveyor.errors import ConfigurationError

DEFAULT_APP = "carwash.app:app"


def load_app(spec: str | None, database_url: str | None = None) -> Conveyor:
    """Import ``module:attribute`` (default: ``CONVEYOR_APP`` or the car-wash app)."""
    spec = spec or os.environ.get("CONVEYOR_APP") or DEFAULT_APP
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"--app must look like module:attribute, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would, so local modules import
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if spec == DEFAULT_APP and (exc.name or "").split(".")[0] == "carwash":
            raise ConfigurationError(
                "no app given: pass --app module:attribute or set CONVEYOR_APP "
                "(the default, the car-wash example, is not installed)"
            ) from exc
        raise ConfigurationError(f"cannot import {module_name!r} for --app: {exc}") from exc
    app = getattr(module, attribute, None)
    if not isinstance(app, Conveyor):
        raise ConfigurationError(f"{spec!r} is not a Conveyor app (got {type(app).__name__})")
    if database_url:
        app.settings = app.settings.model_copy(update={"database_url": database_url})
    if app.settings.pause_gc_during_enqueue is None:
        allow_collector_pause(True)  # the process is Conveyor's own (settings.py says why)
    return app
