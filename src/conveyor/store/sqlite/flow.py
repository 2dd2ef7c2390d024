"""Flow control on SQLite: the flow claim (limits, rate tokens, fairness), run inside the
plain claim's write transaction, after it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from conveyor.store.runner import Row
from conveyor.store.sqlite.connector import rows


def claim_flow(conn: sqlite3.Connection, params: dict[str, Any]) -> list[Row]:
    """Claim up to ``params["limit"]`` flow jobs and take their rate tokens."""
    claimed = rows(conn, "claim_flow_jobs", {"queues": None, **params})
    rated = [row["id"] for row in claimed if row["rate_key"] is not None]
    if rated:
        rows(conn, "take_rate_tokens", {"ids": json.dumps(rated), "now": params["now"]})
    return claimed
