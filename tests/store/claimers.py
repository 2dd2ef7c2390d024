"""A claimer process for the multi-process claim test: claims until the queue is empty.

Run as ``python -m tests.store.claimers URL WORKER_ID``. It opens its own store, prints
``ready``, waits for a line on stdin so that every process starts claiming at once, then
claims in small batches until nothing is due and prints the claimed ids as one JSON list.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

from conveyor.store.factory import open_store
from tests.store.helpers import NOW

BATCH = 25


async def claim_until_empty(url: str, worker_id: str) -> list[int]:
    store = await open_store(url)
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        claimed: list[int] = []
        while True:
            jobs = await store.claim_jobs(
                queues=None,
                limit=BATCH,
                lease_ttl=timedelta(minutes=5),
                worker_id=worker_id,
                now=NOW,
            )
            if not jobs:
                return claimed
            claimed.extend(job.id for job in jobs)
    finally:
        await store.close()


def main() -> None:
    url, worker_id = sys.argv[1], sys.argv[2]
    claimed = asyncio.run(claim_until_empty(url, worker_id))
    print(json.dumps(claimed), flush=True)


if __name__ == "__main__":
    main()
