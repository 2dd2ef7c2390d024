"""Cross-process wake-ups for SQLite: datagrams to the listening workers of one database.

PostgreSQL wakes idle workers with NOTIFY; SQLite has nothing alike, and a worker in
another process than the enqueuer (``conveyor worker`` beside a web app) saw a new job
only at its next poll, half a poll interval later on average. SQLite lives on one
machine, so the store uses a local mechanism instead: every listener binds a Unix
datagram socket in the database's wake folder, and a commit that made jobs runnable
sends the queue's name to each socket there. The folder is ``<database>-wake/`` beside
the file, or, where that path is too long for a socket address, a private folder in the
temporary directory named after the database's absolute path.

Sending never blocks and never fails an enqueue: a full socket buffer means that
listener has wake-ups pending already; a socket nobody reads any more (its process died)
refuses the datagram and is removed. Where the folder cannot be used (no Unix sockets on
the platform, a path too long for one, a read-only folder, an in-memory database), the
listener stays silent and polling covers, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("conveyor.store")

_SUFFIX = ".sock"
# A socket's path must fit sockaddr_un.sun_path (108 bytes on Linux, 104 on macOS); a
# listener's name in the folder ("<pid>-<8 hex>.sock") takes up to 25 of them.
_MAX_FOLDER = 104 - 26


def wake_folder(database_path: str) -> Path | None:
    """The folder of ``database_path``'s listening sockets; ``None`` where none can be.

    Every process that opens the same database file by the same path gets the same folder.
    """
    if database_path == ":memory:" or sys.platform == "win32" or not hasattr(socket, "AF_UNIX"):
        return None
    absolute = os.path.abspath(database_path)
    beside = absolute + "-wake"
    if len(beside.encode()) <= _MAX_FOLDER:
        return Path(beside)
    digest = hashlib.sha256(absolute.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"conveyor-wake-{os.getuid()}-{digest}"


class WakeSender:
    """Sends "jobs are runnable in these queues" to every listener of one database."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._socket: socket.socket | None = None

    def send(self, queues: Iterable[str]) -> None:
        names = sorted(set(queues))
        if self._folder is None or not names:
            return
        try:
            targets = [entry.path for entry in os.scandir(self._folder)]
        except OSError:  # no listener has made the folder yet
            return
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        for target in targets:
            if target.endswith(_SUFFIX):
                self._send_to(target, names)

    def _send_to(self, target: str, names: list[str]) -> None:
        assert self._socket is not None
        for name in names:
            try:
                self._socket.sendto(name.encode(), target)
            except BlockingIOError:
                return  # its buffer is full: that listener is awake already
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody reads it any more: its process died without closing it.
                with contextlib.suppress(OSError):
                    os.unlink(target)
                return
            except OSError as exc:
                log.debug("wake-up to %s failed: %s", target, exc)
                return

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class WakeListener:
    """One listening socket in the wake folder; calls ``on_notify(queue)`` per datagram."""

    def __init__(self, folder: Path | None, on_notify: Callable[[str], None]) -> None:
        self._folder = folder
        self._on_notify = on_notify
        self._socket: socket.socket | None = None
        self._path: str | None = None

    def start(self) -> None:
        if self._folder is None:
            return
        path = str(self._folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}{_SUFFIX}")
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._folder.mkdir(mode=0o700, exist_ok=True)
            if self._folder.stat().st_uid != os.getuid():
                raise PermissionError("the folder belongs to another user")
            listening.bind(path)
        except OSError as exc:
            listening.close()
            log.info("no wake-up socket at %s (%s); workers poll instead", path, exc)
            return
        listening.setblocking(False)
        self._socket, self._path = listening, path
        asyncio.get_running_loop().add_reader(listening.fileno(), self._readable)

    def _readable(self) -> None:
        assert self._socket is not None
        queues: set[str] = set()
        while True:  # everything waiting, each queue once
            try:
                queues.add(self._socket.recv(4096).decode(errors="replace"))
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.debug("wake-up socket read failed: %s", exc)
                break
        for queue in sorted(queues):
            self._on_notify(queue)

    async def close(self) -> None:
        listening, self._socket = self._socket, None
        if listening is None:
            return
        asyncio.get_running_loop().remove_reader(listening.fileno())
        listening.close()
        if self._path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
