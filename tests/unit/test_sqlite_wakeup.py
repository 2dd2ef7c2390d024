"""SQLite's wake-up sockets: where they live, and that a dead listener harms nobody."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor.store.sqlite.wakeup import WakeListener, WakeSender, wake_folder

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop read the socket until ``condition`` holds (at most 10 s)."""
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_listener_hears_each_queue_named_and_removes_its_socket(tmp_path: Path) -> None:
    folder = wake_folder(str(tmp_path / "c.db"))
    heard: list[str] = []
    listener = WakeListener(folder, heard.append)
    listener.start()
    sender = WakeSender(folder)
    try:
        sender.send(["b", "a", "b"])  # one datagram per queue named
        await until(lambda: len(heard) >= 2)
        await asyncio.sleep(0.05)
        assert sorted(heard) == ["a", "b"]
    finally:
        sender.close()
        await listener.close()
    assert folder is not None and list(folder.iterdir()) == []


async def test_a_socket_left_by_a_dead_process_is_removed_and_the_rest_still_hear(
    tmp_path: Path,
) -> None:
    folder = wake_folder(str(tmp_path / "c.db"))
    assert folder is not None
    heard: list[str] = []
    listener = WakeListener(folder, heard.append)
    listener.start()  # makes the folder
    orphan = folder / "999999-deadbeef.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(orphan))
    dead.close()  # as a SIGKILL leaves it: the file stays, nobody reads it
    sender = WakeSender(folder)
    try:
        sender.send(["default"])
        await until(lambda: bool(heard))
        assert heard == ["default"]
        assert not orphan.exists()
    finally:
        sender.close()
        await listener.close()


async def test_sending_without_any_listener_does_nothing(tmp_path: Path) -> None:
    sender = WakeSender(wake_folder(str(tmp_path / "never-listened.db")))
    sender.send(["default"])  # no folder yet: nothing to do, nothing raised
    sender.close()


def test_the_wake_folder_sits_beside_the_database_file() -> None:
    with tempfile.TemporaryDirectory(prefix="cw") as short:
        assert wake_folder(f"{short}/c.db") == Path(f"{short}/c.db-wake")


def test_a_path_too_long_for_a_socket_uses_a_private_temporary_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "conveyor.db"
    folder = wake_folder(str(deep))
    assert folder is not None
    assert len(str(folder)) < 80
    assert folder.name.startswith(f"conveyor-wake-{os.getuid()}-")
    assert folder == wake_folder(str(deep))  # every process finds the same one


def test_an_in_memory_database_has_no_wake_folder() -> None:
    assert wake_folder(":memory:") is None
