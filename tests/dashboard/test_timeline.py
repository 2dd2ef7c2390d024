"""The job page's timeline on both stores: every attempt's start and how it ended, in
order, and errors stored before starts were stamped still render."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from conveyor import JobContext
from conveyor.dashboard.timeline import timeline
from conveyor.errors import Retry
from conveyor.job import JobError
from conveyor.testing import drain
from tests.api._support import Notify
from tests.api.conftest import Api


def timeline_lines(html: str) -> list[str]:
    listed = re.search(r'<ol class="timeline" id="job-timeline">(.*?)</ol>', html, re.S)
    assert listed is not None
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li.*?</li>", listed[1])]


async def test_a_job_with_three_attempts_shows_three_starts_in_order(api: Api) -> None:
    async def thrice(payload: Notify, ctx: JobContext) -> str:
        if ctx.attempt < 3:
            raise Retry(delay=60, reason=f"busy on attempt {ctx.attempt}")
        return "washed"

    api.app.task(name="thrice", max_attempts=3)(thrice)
    job = await api.app.enqueue("thrice", {"message": "wash"})
    starts = []
    for _ in range(3):
        starts.append(api.clock.advance(timedelta(minutes=5)))
        assert await drain(api.app, max_jobs=1) == 1

    done = await api.app.get_job(job.id)
    assert done.state.value == "completed"
    assert [e.started_at for e in done.errors] == starts[:2]
    lines = timeline_lines((await api.client.get(f"/jobs/{job.id}")).text)
    assert [line.split(" · ", 1)[1] for line in lines] == [
        "created",
        "attempt 1 started",
        "attempt 1 failed: Retry: busy on attempt 1; retried",
        "attempt 2 started",
        "attempt 2 failed: Retry: busy on attempt 2; retried",
        "attempt 3 started",
        "attempt 3 completed",
    ]
    started = [line.split(" · ", 1)[0] for line in lines if line.endswith("started")]
    assert started == [f"{s:%Y-%m-%d %H:%M:%S} UTC" for s in starts]


async def test_errors_stored_without_a_start_still_render(api: Api) -> None:
    job = await api.app.enqueue("explode", {"reason": "card declined"})
    await drain(api.app)
    stamped = await api.app.get_job(job.id)
    [error] = stamped.errors
    old_json = {k: v for k, v in error.to_json().items() if k != "started_at"}
    old_error = JobError.from_json(old_json)
    assert old_error.started_at is None
    # the latest attempt's start comes from the row
    old = dataclasses.replace(stamped, errors=(old_error,))
    assert [m.text for m in timeline(old, now=api.clock.now())] == [
        "created",
        "attempt 1 started",
        "attempt 1 failed: RuntimeError: card declined",
        "failed for good",
    ]
    # an earlier attempt's start is unknown: its end is shown alone
    earlier = dataclasses.replace(old_error, attempt=1)
    later = dataclasses.replace(old_error, attempt=2, message="again")
    retried = dataclasses.replace(stamped, attempt=2, errors=(earlier, later))
    assert [m.text for m in timeline(retried, now=api.clock.now())] == [
        "created",
        "attempt 1 failed: RuntimeError: card declined; retried",
        "attempt 2 started",
        "attempt 2 failed: RuntimeError: again",
        "failed for good",
    ]
