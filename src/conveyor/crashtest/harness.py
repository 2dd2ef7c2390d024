"""crashtest(): run a handler in real worker processes, SIGKILL them at chosen kill points,
let the work finish, and check the user's invariant after every crash."""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from conveyor.app import Conveyor
from conveyor.crashtest.points import PointKind
from conveyor.job import Job
from conveyor.task import Task

Payload = pydantic.BaseModel | Mapping[str, Any]
PayloadFactory = Callable[[int], Awaitable[Payload] | Payload]
Check = Callable[[Job], Awaitable[None] | None]
# The kinds a plan covers first, the rarest and most telling first.
KIND_ORDER = (PointKind.ACK, PointKind.COMMITTED, PointKind.TRANSACTION, PointKind.STATEMENT)


@dataclass(frozen=True, slots=True)
class KillPoint:
    """One kill point a worker passed: its number in that process, its kind, its number
    among the points of its kind, and where it was."""

    number: int
    kind: PointKind
    of_kind: int
    label: str

    def __str__(self) -> str:
        return f"#{self.number} [{self.kind.value} #{self.of_kind}] {self.label}"


@dataclass(slots=True)
class CrashRun:
    """One job run under crashes: the kill points its workers died at, then the check."""

    job_id: int
    kills: list[KillPoint] = field(default_factory=list)
    missed: list[KillPoint] = field(default_factory=list)
    """Chosen kill points the worker never reached (it finished the work first)."""
    recovery_seconds: float = 0.0
    """From the last kill until every job was final again (lease expiry and rescue)."""
    error: str | None = None

    def __str__(self) -> str:
        where = "; then ".join(str(k) for k in self.kills) or "no kill point reached"
        return f"job {self.job_id}, killed at {where}"


@dataclass(slots=True)
class CrashReport:
    """What a crash test did: the clean run's kill points and every crashed run."""

    task: str
    points: list[KillPoint]
    runs: list[CrashRun]

    @property
    def failures(self) -> list[CrashRun]:
        return [run for run in self.runs if run.error is not None]

    @property
    def kills(self) -> int:
        return sum(len(run.kills) for run in self.runs)

    def summary(self) -> str:
        kinds = {kind: sum(p.kind is kind for p in self.points) for kind in KIND_ORDER}
        killed = {kind: sum(k.kind is kind for r in self.runs for k in r.kills) for kind in kinds}
        return (
            f"crashtest {self.task}: {len(self.points)} kill points in a clean run ("
            + ", ".join(f"{n} {kind.value}" for kind, n in kinds.items())
            + f"); {self.kills} kills in {len(self.runs)} runs ("
            + ", ".join(f"{n} {kind.value}" for kind, n in killed.items())
            + f"; {sum(len(r.missed) for r in self.runs)} targets not reached)"
            + f"; {len(self.failures)} runs broke the check"
        )


async def crashtest(
    app: Conveyor,
    task: str | Task[Any],
    payload: Payload | PayloadFactory,
    *,
    check: Check,
    worker_app: str,
    runs: int = 8,
    kills_per_run: int = 1,
    seed: int = 0,
    trace: Sequence[str] | None = None,
    lease_ttl: float = 1.0,
    concurrency: int = 4,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> CrashReport:
    """Prove that ``task`` is safe to crash and retry: SIGKILL its worker at chosen kill
    points, let a fresh worker rescue and finish the work, then run ``check``.

    First a clean run (no kill) enqueues ``payload``, runs it in a real worker process
    (``python -m conveyor.crashtest``, loading ``worker_app``) and records every kill point
    that process passed (``conveyor.crashtest.points``: between statements of the traced
    modules, inside the job's transaction, just after a durable write, just before the
    ack). ``check`` must hold after it. Then each run enqueues the payload again and starts
    ``kills_per_run`` workers in turn, each one dying (``SIGKILL``, sent by the process to
    itself) at a kill point of the clean run, aimed at as "the n-th point of kind k". The
    plan, drawn with ``seed``, first takes one point of each kind, rarest kind first, then
    the others in random order. A last worker without a target rescues what the dead ones
    held once their lease (``lease_ttl`` seconds) expires and runs until every job in the
    database is final; then ``check`` gets the run's job. A run whose target was never
    reached (timing moves the count of some kinds a little from run to run) does not
    count, up to ``2 * runs`` runs in all. With several jobs running at once the same
    target can land on another line in another run, so each kill is reported by the
    label its worker logged just before dying.

    Args:
        app: the app on the database under test, used to enqueue and to read jobs.
        task: the task (or its name) to run.
        payload: its payload, or ``f(run)`` returning one per run (``run`` 0 is the clean
            one), for work that needs fresh data each time.
        check: the invariant, called with the run's finished job; raise
            ``AssertionError`` (or anything) when it does not hold.
        worker_app: ``module:attribute`` of the same app, for the worker processes.
        trace: modules whose lines are kill points (default: the handler's module).
        env: extra environment for the workers.
        timeout: the longest one worker may take to die or finish (a hang guard).

    Returns the ``CrashReport``; raises ``AssertionError`` naming the kill points of every
    run that broke the check (or a clean run that already did).
    """
    registered = app.tasks[task if isinstance(task, str) else task.name]
    tracing = list(trace) if trace is not None else [registered.fn.__module__]
    runner = _Runner(app, worker_app, tracing, lease_ttl, concurrency, env or {}, timeout)
    with tempfile.TemporaryDirectory(prefix="conveyor-crashtest-") as scratch:
        runner.scratch = Path(scratch)
        try:
            report = await _crash_runs(
                app, registered, payload, check, runner, runs, kills_per_run, seed
            )
        finally:
            runner.kill_all()
    if report.failures:
        raise AssertionError(
            f"{report.summary()}:\n"
            + "\n".join(f"- {run}:\n    {run.error}" for run in report.failures)
        )
    return report


async def _crash_runs(
    app: Conveyor,
    registered: Task[Any],
    payload: Any,
    check: Check,
    runner: _Runner,
    runs: int,
    kills_per_run: int,
    seed: int,
) -> CrashReport:
    """The clean run, then ``runs`` crashed ones (see ``crashtest``)."""
    clean = await _enqueue(app, registered, payload, 0)
    points = await runner.run_clean()
    if not points:
        raise AssertionError(
            f"crashtest {registered.name}: the clean run passed no kill point; "
            f"trace the modules that do the work (trace=...)"
        )
    try:
        await _check(check, await app.get_job(clean.id))
    except AssertionError as exc:
        raise AssertionError(
            f"crashtest {registered.name}: the check fails without any crash "
            f"(clean run, job {clean.id}): {exc}"
        ) from exc
    plan = kill_plan(points, random.Random(seed))
    report = CrashReport(registered.name, points, [])
    # A target the worker never reached (timing moves the count of some kinds a little
    # from run to run) leaves a run without a kill: such runs do not count, up to a limit.
    while len([r for r in report.runs if r.kills]) < runs and len(report.runs) < 2 * runs:
        job = await _enqueue(app, registered, payload, len(report.runs) + 1)
        crashed = CrashRun(job.id)
        for _ in range(kills_per_run):
            if await runner.settled():
                break  # an earlier kill landed after the work was done
            target = next(plan)
            killed = await runner.run_armed(target)
            if killed is None:
                crashed.missed.append(target)
            else:
                crashed.kills.append(killed)
        started = time.monotonic()
        await runner.run_to_the_end()
        crashed.recovery_seconds = time.monotonic() - started
        try:
            await _check(check, await app.get_job(job.id))
        except AssertionError as exc:
            crashed.error = str(exc)
        report.runs.append(crashed)
    return report


async def _enqueue(app: Conveyor, task: Task[Any], payload: Any, number: int) -> Job:
    if callable(payload) and not isinstance(payload, pydantic.BaseModel | Mapping):
        payload = payload(number)
        if inspect.isawaitable(payload):
            payload = await payload
    return await app.enqueue(task.name, payload)


async def _check(check: Check, job: Job) -> None:
    try:
        outcome = check(job)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


def kill_plan(points: Sequence[KillPoint], rng: random.Random) -> Iterator[KillPoint]:
    """Kill points of the clean run to aim at: one of each kind first (rarest kind
    first), then each of the others in a random order, then at random for ever."""
    first = [
        rng.choice([p for p in points if p.kind is kind])
        for kind in sorted(KIND_ORDER, key=lambda k: sum(p.kind is k for p in points))
        if any(p.kind is kind for p in points)
    ]
    yield from first
    rest = [p for p in points if p not in first]
    rng.shuffle(rest)
    yield from rest
    while True:
        yield rng.choice(points)


class _Runner:
    """Starts the worker processes of one crash test and waits on them and the database."""

    def __init__(
        self,
        app: Conveyor,
        worker_app: str,
        trace: list[str],
        lease_ttl: float,
        concurrency: int,
        env: Mapping[str, str],
        timeout: float,
    ) -> None:
        self.app = app
        self.worker_app = worker_app
        self.trace = trace
        self.concurrency = concurrency
        self.timeout = timeout
        self.scratch = Path(".")
        self.started = 0
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]),
            **env,
            "CONVEYOR_DATABASE_URL": app.settings.resolved_database_url,
            "CONVEYOR_LEASE_TTL_SECONDS": str(lease_ttl),
        }

    def start(self, target: KillPoint | None) -> tuple[subprocess.Popen[bytes], Path]:
        self.started += 1
        log = self.scratch / f"worker-{self.started}.points"
        command = [sys.executable, "-m", "conveyor.crashtest", "--app", self.worker_app]
        command += ["--log", str(log), "--concurrency", str(self.concurrency)]
        if target is not None:
            command += ["--kill-kind", target.kind.value, "--kill-at", str(target.of_kind)]
        for module in self.trace:
            command += ["--trace", module]
        with open(self.scratch / f"worker-{self.started}.stderr", "wb") as errors:
            process = subprocess.Popen(
                command, env=self.env, stdout=subprocess.DEVNULL, stderr=errors
            )
        self.processes.append(process)
        return process, log

    def kill_all(self) -> None:
        """Leave no worker behind, whatever happened to the test."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    async def run_clean(self) -> list[KillPoint]:
        """The calibration: one worker without a kill runs everything; its points."""
        process, log = self.start(None)
        await self._until_settled_or_dead(process)
        await self._stop(process)
        return _read_points(log)

    async def run_armed(self, target: KillPoint) -> KillPoint | None:
        """A worker that dies at ``target``: where it died (None: it finished first)."""
        process, log = self.start(target)
        await self._until_settled_or_dead(process)
        passed = _read_points(log)
        if passed and (passed[-1].kind, passed[-1].of_kind) == (target.kind, target.of_kind):
            # It logged the point and killed itself; the work may look settled already
            # (a kill just after the last commit), so wait for the exit too.
            while process.poll() is None:
                await asyncio.sleep(0.01)
            return passed[-1]
        await self._stop(process)
        return None

    async def run_to_the_end(self) -> None:
        process, _ = self.start(None)
        await self._until_settled_or_dead(process)
        await self._stop(process)

    async def _until_settled_or_dead(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.timeout
        while process.poll() is None:
            if await self.settled():
                return
            if time.monotonic() > deadline:
                await self._stop(process)
                raise AssertionError(
                    f"crashtest: the work did not settle within {self.timeout:g} s"
                    f"{self._stderr_tail()}"
                )
            await asyncio.sleep(0.05)
        if process.returncode not in (0, -signal.SIGKILL):
            raise RuntimeError(
                f"crashtest: a worker exited with {process.returncode}{self._stderr_tail()}"
            )

    async def settled(self) -> bool:
        counts = await self.app.counts()
        return all(c.state.is_final for c in counts if c.count)

    async def _stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM, then wait without blocking the loop (the test may serve the worker's
        SMTP or HTTP from this very loop); SIGKILL after 30 s."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                return
            await asyncio.sleep(0.05)

    def _stderr_tail(self) -> str:
        text = (self.scratch / f"worker-{self.started}.stderr").read_text(errors="replace")
        return f"; its stderr ends:\n{text[-2000:]}" if text.strip() else ""


def _read_points(log: Path) -> list[KillPoint]:
    if not log.exists():
        return []
    points = []
    for line in log.read_text().splitlines():
        number, kind, of_kind, label = line.split("\t", 3)
        points.append(KillPoint(int(number), PointKind(kind), int(of_kind), label))
    return points
