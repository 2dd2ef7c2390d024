"""What the ``latency`` job of every system does: record how long it waited to start.

Each worker process appends one line per job, ``start - sent_at`` in seconds, to the file
named by ``BENCH_LATENCY_FILE``; lines of up to a few bytes are appended atomically, so
the processes can share the file.
"""

from __future__ import annotations

import os
import time


def record_start(sent_at: float) -> None:
    waited = time.time() - sent_at
    with open(os.environ["BENCH_LATENCY_FILE"], "a") as out:
        out.write(f"{waited:.6f}\n")
