"""WriterTurns: the SQLite stores of every process queue for the write lock on a lock file.

SQLite's own wait for its write lock is a poll: a writer that finds the file locked sleeps
1, 2, 5, 10 ... 100 ms and tries again, however soon the lock is released. Two worker
processes that each write a few hundred times a second kept colliding, and each collision
cost at least a millisecond of nothing. A store therefore takes an exclusive
``flock`` on ``<database>-turns`` around each write transaction: the kernel wakes the next
waiter the moment the holder lets go, and by then SQLite's lock is free. The lock file
only orders Conveyor's own store writes; any other writer (a handler's
``ctx.transaction()``, an application's own connection) is still waited for by SQLite's
busy timeout, so no wait on the file lock outlasts that timeout.

A separate file, never the database: closing any descriptor of the database file would
drop SQLite's POSIX locks on it. Where ``fcntl`` does not exist (Windows) the turns are a
no-op and SQLite's busy timeout does all the waiting, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("conveyor.store")


class WriterTurns:
    """An exclusive file lock taken around each write transaction of one store connection.
    Used under the store's connection lock only: ``flock`` locks belong to the open file,
    so two threads of one store would not exclude each other."""

    def __init__(self, database_path: str) -> None:
        self._path = None if database_path == ":memory:" else f"{database_path}-turns"
        self._fd: int | None = None

    def open(self) -> None:
        if self._path is None or fcntl is None or self._fd is not None:
            return
        try:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # e.g. a read-only folder: SQLite's busy timeout still serialises
            log.info(
                "no writer turns for %s (%s); relying on SQLite's busy timeout", self._path, exc
            )

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the turn; hold it for the block."""
        fd = self._fd
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def try_take(self) -> bool:
        """Take the turn if no other store holds it, without waiting; ``give_back`` ends it."""
        fd = self._fd
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def give_back(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
