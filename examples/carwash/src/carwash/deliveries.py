"""The delivery ledger of a campaign: each recipient's claim and outcome, committed before
its SMTP ``DATA``, with the writes of every chunk sending in one process sharing commits."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, update

from carwash.db import Database
from carwash.models import Delivery


@dataclass(frozen=True, slots=True)
class Step:
    """One chunk's next write: settle the recipients it finished (``sending`` → an outcome)
    and claim the one it sends next (``pending`` → ``sending``)."""

    settle: tuple[tuple[int, str, str | None], ...] = ()
    claim: int | None = None


def _apply(conn: Connection, *, steps: list[Step]) -> set[int]:
    """Write many chunks' steps in one transaction; returns the delivery ids claimed."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for step in steps:
        for delivery_id, state, reason in step.settle:
            groups.setdefault((state, reason), []).append(delivery_id)
    for (state, reason), ids in groups.items():
        settle(conn, ids, state, reason, was="sending")
    wanted = [step.claim for step in steps if step.claim is not None]
    if not wanted:
        return set()
    claimed = conn.execute(
        update(Delivery)
        .where(Delivery.id.in_(wanted), Delivery.state == "pending")
        .values(state="sending", attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    ).scalars()
    return set(claimed)


def settle(conn: Connection, ids: list[int], state: str, reason: str | None, *, was: str) -> int:
    finished_at = None if state == "pending" else datetime.now(UTC)
    done = conn.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == was)
        .values(state=state, reason=reason, finished_at=finished_at)
    )
    return done.rowcount


class DeliveryLog:
    """Group commit of the steps of every chunk sending in this process.

    Each recipient costs one durable write before its ``DATA`` (the claim), or a worker
    killed after that ``DATA`` would leave more than the one message in flight unknown.
    A chunk waits for its own step only; steps that arrive while a commit runs share the
    next one, so N chunks sending at once need about 1/N of the commits (SQLite has one
    writer and an fsync per commit, so this is what keeps the send fast there)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[Step, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, step: Step) -> bool:
        """Commit ``step`` (with whatever else is waiting); whether its claim was taken."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._waiting.append((step, done))
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_waiting())
        return await done

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                claimed = await self.db.write(
                    functools.partial(_apply, steps=[step for step, _ in batch])
                )
            except BaseException as exc:
                for _, done in batch:
                    if done.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        done.cancel()
                    else:
                        done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            # Two attempts of one chunk in this process (a stale one that lost its lease and
            # its successor) may claim the same recipient in one commit: one of them gets it.
            granted: set[int] = set()
            for step, done in batch:
                mine = step.claim in claimed and step.claim not in granted
                if mine and step.claim is not None:
                    granted.add(step.claim)
                if not done.done():
                    done.set_result(mine)
