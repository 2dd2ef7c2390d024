"""Supervisor: keeps N worker processes alive, restarting crashed ones and recycling old ones.

A child that exits with status 0 retired on purpose (it reached ``--max-jobs-per-child`` or
``--max-memory-per-child``) and is replaced at once; a child that crashed is replaced after
a short back-off so that a worker that dies at start-up does not spin. SIGTERM/SIGINT are
forwarded to the children, which drain; the supervisor waits for them.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger("conveyor.supervisor")


class Supervisor:
    """Runs ``command`` ``processes`` times over, until told to stop."""

    def __init__(self, command: Sequence[str], processes: int, *, restart_delay: float = 1.0):
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.command = list(command)
        self.processes = processes
        self.restart_delay = restart_delay
        self.children: list[subprocess.Popen[bytes]] = []
        self.restarts = 0
        self._stopping = False

    def _spawn(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(self.command)
        log.info("started worker process %d", child.pid)
        return child

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        first = not self._stopping
        self._stopping = True
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signum if first else signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.children = [self._spawn() for _ in range(self.processes)]
        while True:
            alive = False
            for index, child in enumerate(self.children):
                code = child.poll()
                if code is None:
                    alive = True
                    continue
                if self._stopping:
                    continue
                if code != 0:
                    log.error("worker process %d exited with %d; restarting", child.pid, code)
                    time.sleep(self.restart_delay)
                self.restarts += 1
                self.children[index] = self._spawn()
                alive = True
            if self._stopping and not alive:
                return 0
            time.sleep(0.2)


def worker_command(args: Sequence[str]) -> list[str]:
    """The command line of one child: this CLI's ``worker`` without ``--processes``."""
    return [sys.executable, "-m", "conveyor.cli", *args]
