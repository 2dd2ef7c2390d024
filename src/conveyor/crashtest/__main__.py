"""The worker process a crash test starts: ``conveyor worker`` with a ``KillSwitch`` armed.

``python -m conveyor.crashtest --app MODULE:ATTR --log FILE [--kill-kind K --kill-at N]
[--trace MODULE]…`` runs every queue of the app (scheduler off) until SIGTERM, or until
it kills itself at its ``N``-th kill point of kind ``K``. The database and the lease
length come from ``CONVEYOR_*`` variables, as for any worker.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from conveyor.cli.loading import load_app
from conveyor.crashtest.points import KillSwitch, PointKind
from conveyor.worker.worker import Worker, WorkerOptions


async def serve(app_spec: str, switch: KillSwitch, concurrency: int) -> None:
    app = load_app(app_spec)
    try:
        switch.arm(await app.store())
        ttl = timedelta(seconds=app.settings.lease_ttl_seconds)
        worker = Worker(
            app,
            WorkerOptions(
                max_concurrency=concurrency,
                lease_ttl=ttl,
                rescue_interval=ttl / 2,
                poll_interval=timedelta(milliseconds=100),
            ),
        )
        switch.install_tracer()
        await worker.run(handle_signals=True)
    finally:
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m conveyor.crashtest")
    parser.add_argument("--app", required=True, help="module:attribute of the app")
    parser.add_argument("--log", required=True, type=Path, help="file the points go to")
    parser.add_argument("--kill-kind", choices=[k.value for k in PointKind])
    parser.add_argument("--kill-at", type=int, default=-1, help="die at this point of the kind")
    parser.add_argument("--trace", action="append", default=[], help="module to trace")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    kind = PointKind(args.kill_kind) if args.kill_kind else None
    switch = KillSwitch(kill_at=args.kill_at, log_path=args.log, trace=args.trace, kill_kind=kind)
    asyncio.run(serve(args.app, switch, args.concurrency))


if __name__ == "__main__":
    main()
