"""A worker cut off past its lease (SIGSTOP, the way a partition or a long GC pause looks
from outside): another worker rescues and finishes the job, and when the first one wakes
up its late writes are refused by the lease token."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from conveyor import JobState
from tests.chaos.apps import Gate, build
from tests.chaos.conftest import Report
from tests.chaos.drain import log_dir
from tests.chaos.support import eventually, start_worker, stop

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
REFUSALS = ("finished after losing its lease", "lost its lease (cancelled or rescued)")


async def test_a_worker_stopped_past_its_lease_has_its_late_writes_refused(
    store_url: str, tmp_path: Path, chaos_report: Report
) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    logs = log_dir(tmp_path)
    app = build(store_url)
    stalled = start_worker(store_url, logs / "stalled.log", lease_ttl=1.0)
    rescuer = None
    try:
        job = await app.enqueue("chaos.gated", Gate(directory=str(gates)))

        async def running() -> bool:
            return (await app.get_job(job.id)).state is JobState.RUNNING

        await eventually(running, timeout=30, what="the job running")
        first = await app.get_job(job.id)
        os.kill(stalled.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        rescuer = start_worker(store_url, logs / "rescuer.log", lease_ttl=1.0)

        async def rescued() -> bool:
            found = await app.get_job(job.id)
            return found.state is JobState.RUNNING and found.attempt == 2

        await eventually(rescued, timeout=30, what="the job rescued by the other worker")
        (gates / "attempt-2").touch()

        async def completed() -> bool:
            return (await app.get_job(job.id)).state is JobState.COMPLETED

        await eventually(completed, timeout=30, what="the rescued run completed")
        recovered = time.monotonic() - stopped_at
        (gates / "attempt-1").touch()  # the stalled run may finish too, once it wakes up
        os.kill(stalled.pid, signal.SIGCONT)

        async def refused() -> bool:
            text = (logs / "stalled.log").read_text(errors="replace")
            return any(line in text for line in REFUSALS)

        await eventually(refused, timeout=30, what="the stalled worker's refusal in its log")
        done = await app.get_job(job.id)
        text = (logs / "stalled.log").read_text(errors="replace")
        chaos_report(
            lease_ttl_s=1.0,
            refused_as="late ack" if REFUSALS[0] in text else "lost lease at heartbeat",
            lost=0 if done.state is JobState.COMPLETED else 1,
            recovery_s=round(recovered, 2),
        )
        assert done.result == {"attempt": 2, "pid": rescuer.pid}
        assert done.attempt == 2 and done.worker_id != first.worker_id
        assert [e.type for e in done.errors] == ["LeaseExpired"]
    finally:
        if stalled.poll() is None:
            os.kill(stalled.pid, signal.SIGCONT)
        codes = [stop(stalled), *([stop(rescuer)] if rescuer else [])]
        await app.close()
    assert codes == [0, 0]  # the stalled worker lived on, and stopped cleanly
