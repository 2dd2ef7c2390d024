"""Lifecycle hooks: callables the app runs around every job (logging, metrics, alerts).

| hook | called with | when |
|---|---|---|
| ``before`` | ``(job)`` | an attempt is about to run |
| ``after`` | ``(job, result)`` | the handler returned |
| ``failure`` | ``(job, error, will_retry)`` | the handler raised, timed out or discarded |
| ``cancel`` | ``(job)`` | the job was cancelled (or lost its lease) while running |

A hook may be sync or async. A hook that raises is logged and ignored: it can never fail
a job or stop a worker.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, Literal

HookKind = Literal["before", "after", "failure", "cancel"]
Hook = Callable[..., Any]
log = logging.getLogger("conveyor.hooks")


class Hooks:
    """The registered hooks of one app, by kind, in registration order."""

    def __init__(self) -> None:
        self._hooks: dict[str, list[Hook]] = {
            "before": [],
            "after": [],
            "failure": [],
            "cancel": [],
        }

    def add(self, kind: HookKind, hook: Hook) -> Hook:
        if kind not in self._hooks:
            raise ValueError(f"unknown hook {kind!r}; known: {', '.join(self._hooks)}")
        self._hooks[kind].append(hook)
        return hook

    def has(self, kind: HookKind) -> bool:
        """Whether any hook of ``kind`` is registered: the worker skips ``emit`` (a
        coroutine to make and await) for each job when none is."""
        return bool(self._hooks[kind])

    async def emit(self, kind: HookKind, *args: Any) -> None:
        for hook in self._hooks[kind]:
            try:
                outcome = hook(*args)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("%s hook %r raised; ignored", kind, hook)
