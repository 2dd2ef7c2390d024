"""``conveyor worker --metrics-port``: one worker process's own figures over HTTP.

prometheus_client serves from its own thread; the figures are read on the worker's event
loop, where they change, so that a scrape never sees a half-updated tally.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from conveyor.metrics.families import Figures, families
from conveyor.metrics.tally import Tally
from conveyor.worker.worker import Worker

log = logging.getLogger("conveyor.metrics")
SCRAPE_TIMEOUT = 10.0


class WorkerCollector(Collector):
    def __init__(self, worker: Worker, loop: asyncio.AbstractEventLoop) -> None:
        self.worker = worker
        self.loop = loop

    async def _figures(self) -> Figures:
        tally = Tally.from_json(self.worker.tally.to_json())
        return Figures(
            tally=tally, now=self.worker.app.clock.now(), executors=self.worker.executor_count
        )

    def collect(self) -> Iterator[Metric]:
        future = asyncio.run_coroutine_threadsafe(self._figures(), self.loop)
        return families(future.result(timeout=SCRAPE_TIMEOUT))


def serve_worker_metrics(worker: Worker, *, host: str, port: int) -> int:
    """Start the endpoint on ``host:port`` (port 0: any free one); the port it bound."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(worker, asyncio.get_running_loop()))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    bound: int = server.server_address[1]
    log.info("worker metrics at http://%s:%d/metrics", host, bound)
    return bound
