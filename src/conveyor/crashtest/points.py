"""Kill points: the moments a worker under a crash test may die, counted and acted on.

A worker armed with a ``KillSwitch`` numbers every kill point it passes, logs each one to
a file (one line: number, kind, label) and, at the number it was given, SIGKILLs its own
process: the kernel ends it on the spot, with no ``finally``, no ``atexit`` and no buffer
flush, exactly as ``kill -9`` from outside would, but at a known moment instead of a
random one. The points are:

- ``statement``: a line of the traced code (the handler's module, or the modules named)
  about to run, outside any job transaction. A line counts the first time it runs after
  the handler resumed from an ``await`` or passed a store write, so a loop contributes
  one point per pass that did I/O, not one per iteration of pure computation.
- ``transaction``: inside ``ctx.transaction()``: a traced line, each statement the job's
  transaction executes, and the moment just before its commit.
- ``committed``: just after a durable write of the job's own (a job transaction's commit,
  ``ctx.progress``, ``ctx.save_checkpoint``, item outcomes): the effect is on disk, the
  job is not acknowledged yet.
- ``ack``: the handler returned and its acknowledgement is about to be written.

Effects a handler makes elsewhere (SMTP, HTTP, another database) are covered by the
``statement`` points just after the lines that make them.
"""

from __future__ import annotations

import contextlib
import contextvars
import linecache
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from conveyor.store.base import Store, StoreTx

_ASYNC_FLAGS = 0x80 | 0x100 | 0x200  # CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR
_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "conveyor_crashtest_in_transaction", default=False
)


class PointKind(StrEnum):
    """Where in a job's life a kill point lies (see the module docstring)."""

    STATEMENT = "statement"
    TRANSACTION = "transaction"
    COMMITTED = "committed"
    ACK = "ack"


class KillSwitch:
    """Numbers the kill points one process passes and SIGKILLs it at the ``kill_at``-th
    point of kind ``kill_kind`` (counted from 0; negative: never, the process only logs
    its points). Counting within a kind keeps a rare kind (an ack) reachable when other
    jobs running at the same time shift the overall numbering."""

    def __init__(
        self,
        *,
        kill_at: int,
        log_path: Path,
        trace: Sequence[str],
        kill_kind: PointKind | None = None,
    ) -> None:
        self.kill_at = kill_at
        self.kill_kind = kill_kind
        self.passed = 0
        self._passed_of_kind: dict[PointKind, int] = dict.fromkeys(PointKind, 0)
        self._trace = tuple(trace)
        self._log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self._lines_seen: set[tuple[str, int]] = set()
        self._traced_code: dict[CodeType, bool] = {}

    def point(self, kind: PointKind, label: str, *, after_io: bool = True) -> None:
        """Pass one kill point: log it, and die here if it is the chosen one. A point at
        I/O (``after_io``) lets every traced line count again after it."""
        with self._lock:
            number = self.passed
            self.passed += 1
            of_kind = self._passed_of_kind[kind]
            self._passed_of_kind[kind] += 1
            if after_io:
                self._lines_seen.clear()
            label = label.replace("\t", " ").replace("\n", " ")
            # os.write goes straight to the kernel: the line survives the SIGKILL below.
            os.write(self._log, f"{number}\t{kind.value}\t{of_kind}\t{label}\n".encode())
            if kind is self.kill_kind and of_kind == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    # -- line tracing -------------------------------------------------------------------

    def install_tracer(self) -> None:
        """Trace the configured modules' lines in this thread and in threads started later
        (sync handlers run in a thread pool)."""
        if not self._trace:
            return
        sys.settrace(self._on_call)
        threading.settrace(self._on_call)

    def _is_traced(self, code: CodeType, module: object) -> bool:
        traced = self._traced_code.get(code)
        if traced is None:
            name = module if isinstance(module, str) else ""
            traced = any(name == p or name.startswith(p + ".") for p in self._trace)
            self._traced_code[code] = traced
        return traced

    def _on_call(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        code = frame.f_code
        if not self._is_traced(code, frame.f_globals.get("__name__")):
            return None
        if code.co_flags & _ASYNC_FLAGS and frame.f_lineno != code.co_firstlineno:
            # A coroutine resumed after an await: whatever it awaited has happened.
            with self._lock:
                self._lines_seen.clear()
        return self._on_line

    def _on_line(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if event != "line":
            return self._on_line
        where = (frame.f_code.co_filename, frame.f_lineno)
        with self._lock:
            if where in self._lines_seen:
                return self._on_line
            self._lines_seen.add(where)
        kind = PointKind.TRANSACTION if _in_transaction.get() else PointKind.STATEMENT
        self.point(kind, _describe_line(frame), after_io=False)
        return self._on_line

    # -- store writes -------------------------------------------------------------------

    def arm(self, store: Store) -> None:
        """Add the store's kill points to ``store`` (this one instance only)."""
        switch = self
        open_transaction = store.transaction

        @contextlib.asynccontextmanager
        async def transaction() -> AsyncIterator[StoreTx]:
            async with open_transaction() as tx:
                entered = _in_transaction.set(True)
                try:
                    yield _CountingTx(tx, switch)
                finally:
                    _in_transaction.reset(entered)
                switch.point(PointKind.TRANSACTION, "just before the job transaction commits")
            switch.point(PointKind.COMMITTED, "just after the job transaction committed")

        def after(name: str) -> None:
            method = getattr(store, name)

            async def wrapped(**kwargs: Any) -> Any:
                outcome = await method(**kwargs)
                switch.point(PointKind.COMMITTED, f"just after {name} committed")
                return outcome

            setattr(store, name, wrapped)

        for name in ("save_progress", "save_checkpoint", "record_items"):
            after(name)
        ack_jobs = store.ack_jobs

        async def ack(**kwargs: Any) -> Any:
            ids = [a.job_id for a in kwargs.get("acks", ())]
            if ids:
                switch.point(PointKind.ACK, f"just before acking job(s) {_ids(ids)}")
            return await ack_jobs(**kwargs)

        store.transaction = transaction  # type: ignore[method-assign]
        store.ack_jobs = ack  # type: ignore[method-assign]


class _CountingTx:
    """A job transaction whose statements are kill points; everything else passes through."""

    def __init__(self, tx: StoreTx, switch: KillSwitch) -> None:
        self._tx = tx
        self._switch = switch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def execute(self, sql: Any, params: Mapping[str, Any] | None = None) -> Any:
        statement = " ".join(str(sql).split())[:70]
        self._switch.point(PointKind.TRANSACTION, f"before the statement {statement}")
        return await self._tx.execute(sql, params)


def _describe_line(frame: FrameType) -> str:
    module = frame.f_globals.get("__name__", "?")
    source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{module}:{frame.f_lineno} in {frame.f_code.co_name}: {source[:80]}"


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
