"""The ``conveyor`` process's start-up: no garbage collection until the app is loaded.

Loading an app creates some 100,000 objects (modules, classes, pydantic schemas) that live
as long as the process. The collector, left on, walks them again and again while they are
made, a large part of a worker's start (docs/benchmarks.md, W8). So the command
line's entry point turns collection off, and ``startup_over`` (called once the app is
loaded) freezes what start-up made, kept out of every later collection, and turns it back
on. The command line is the host process here; a program that imports ``conveyor`` as a
library keeps its collector as it set it.
"""

from __future__ import annotations

import gc

_deferred = False


def defer_collection() -> None:
    """Turn collection off until ``startup_over`` (the ``conveyor`` entry point only)."""
    global _deferred
    if gc.isenabled():
        gc.disable()
        _deferred = True


def startup_over() -> None:
    """End the start-up: freeze its objects and collect again. A no-op unless
    ``defer_collection`` turned collection off, and after the first call."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()
