"""LoopWatchdog: a thread that notices a blocked event loop, names the jobs running on it,
and renews the worker's leases from outside it while it stays blocked.

A handler that blocks the loop (``time.sleep`` in an ``async def``) stops the heartbeat
loop with it; without this thread the lease would expire and another worker would run
the job again while the first run still goes on. The thread asks the loop to answer (a
callback scheduled with ``call_soon_threadsafe``) and, once it has not answered for
``threshold``, logs a warning naming the job it is stuck in and extends every held lease
in one batched, fenced ``extend_leases`` through a store of its own (its own connection,
opened on first need on the thread's own event loop). A lease found lost is handed back
to the worker's loop, which stops that run as the heartbeat loop would.

A C call that holds the GIL stops this thread too; such handlers need
``executor="process"`` (docs/howto/blocking-handlers.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from conveyor.errors import LeaseLost
from conveyor.job import Lease
from conveyor.store.base import Store

log = logging.getLogger("conveyor.worker")


class LoopWatchdog:
    """Watches ``loop`` from a daemon thread. Invariant: it writes to the database only
    while the loop has not answered for ``threshold`` seconds; a worker whose loop is
    healthy costs one callback per check and no connection."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        new_store: Callable[[], Store],
        leases: Callable[[], Sequence[Lease]],
        running: Callable[[asyncio.Task[object] | None], Sequence[str]],
        on_lost: Callable[[LeaseLost], None],
        lease_ttl: timedelta,
        threshold: float,
    ) -> None:
        self._loop = loop
        self._new_store = new_store
        self._leases = leases
        self._running = running
        self._on_lost = on_lost
        self._lease_ttl = lease_ttl
        self._threshold = threshold
        self._check_every = min(1.0, threshold / 4)
        self._answered_at = time.monotonic()  # written by the loop, read by the thread
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="conveyor-watchdog", daemon=True)
        self.renewals = 0  # batched extensions made from this thread (for tests and tools)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and close its store; the daemon thread never holds up exit."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _answer(self) -> None:
        self._answered_at = time.monotonic()

    def _watch(self) -> None:
        own_loop = asyncio.new_event_loop()
        store: Store | None = None
        blocked_since: float | None = None
        renewed_at = 0.0
        try:
            while not self._stopping.wait(self._check_every):
                silent = time.monotonic() - self._answered_at
                if silent < self._threshold:
                    if blocked_since is not None:
                        log.warning(
                            "event loop unblocked after %.1f s", time.monotonic() - blocked_since
                        )
                        blocked_since = None
                    if not self._ask():
                        return  # the worker's loop is closed: nothing left to watch
                    continue
                if blocked_since is None:
                    blocked_since = time.monotonic() - silent
                    self._warn(silent)
                if time.monotonic() - renewed_at >= self._threshold:
                    renewed_at = time.monotonic()
                    if store is None:
                        store = self._open(own_loop)
                    if store is not None:
                        own_loop.run_until_complete(self._renew(store))
        except Exception:
            log.exception("the loop watchdog failed; leases depend on the loop alone now")
        finally:
            if store is not None:
                with contextlib.suppress(Exception):
                    own_loop.run_until_complete(store.close())
            own_loop.close()

    def _open(self, own_loop: asyncio.AbstractEventLoop) -> Store | None:
        """The watchdog's own store, or ``None`` when it cannot open now (the database is
        unreachable): the next renewal tries again, as the heartbeat loop would."""
        store = self._new_store()
        try:
            own_loop.run_until_complete(store.open())
        except Exception as exc:
            log.warning("the loop watchdog cannot reach the store, retrying: %s", exc)
            with contextlib.suppress(Exception):
                own_loop.run_until_complete(store.close())
            return None
        return store

    def _ask(self) -> bool:
        """Have the loop answer when it next runs callbacks; False once it is closed."""
        try:
            self._loop.call_soon_threadsafe(self._answer)
        except RuntimeError:
            return False
        return True

    def _warn(self, silent: float) -> None:
        stuck = self._running(asyncio.current_task(self._loop))
        log.warning(
            "event loop blocked for %.1f s by %s; renewing this worker's leases from the"
            " watchdog thread. A handler that blocks needs a plain def (thread) or"
            " executor='process' (see docs/howto/blocking-handlers.md)",
            silent,
            ", ".join(stuck) or "no job (a hook or the worker itself)",
        )

    async def _renew(self, store: Store) -> None:
        leases = list(self._leases())
        if not leases:
            return
        try:
            lost = await store.extend_leases(leases=leases, ttl=self._lease_ttl, now=None)
        except Exception:
            log.exception("the watchdog could not renew leases; retrying")
            return
        self.renewals += 1
        for item in lost:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._on_lost, item)
