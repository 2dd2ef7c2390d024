"""Batch parameters both dialects send alike: one JSON array read by the SQL side."""

from __future__ import annotations

import json
from collections.abc import Sequence

from conveyor.job import Lease


def leases_json(leases: Sequence[Lease]) -> str:
    """``[{"id": …, "token": …}, …]`` for the fenced lease statements."""
    return json.dumps([{"id": lease.job_id, "token": lease.token} for lease in leases])
