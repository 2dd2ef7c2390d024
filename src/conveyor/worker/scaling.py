"""How a worker sizes itself: executors for a backlog, and claimed jobs kept ready (pure)."""

from __future__ import annotations


def target_concurrency(backlog: int, *, max_concurrency: int, scaling_threshold: int) -> int:
    """``min(max_concurrency, max(1, backlog // scaling_threshold))`` (DESIGN.md §4).

    ``backlog`` is the number of jobs claimed or waiting that no executor is running yet.
    """
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")
    if scaling_threshold < 1:
        raise ValueError("scaling_threshold must be at least 1")
    return min(max_concurrency, max(1, backlog // scaling_threshold))


def next_prefetch(
    previous: int, *, ended_per_second: float, claim_seconds: float, max_prefetch: int
) -> int:
    """How many claimed jobs to keep waiting beyond the executors' slots after a claim.

    A slot that frees up while a claim is in flight (or just before it) stays idle until
    the claim returns, unless a job already waits for it. At ``ended_per_second`` (runs
    that gave their slot back since the previous claim, per second) a round trip of
    ``claim_seconds`` idles that many slots; twice that covers the wake-up and the next
    round trip too. The target grows at once and halves with each claim that needed
    none, so jobs that run long against a round trip (a second against a millisecond)
    are claimed only for free slots and never sit claimed by one worker while another
    is idle.
    """
    if max_prefetch < 0:
        raise ValueError("max_prefetch must not be negative")
    needed = int(2 * ended_per_second * claim_seconds)
    return min(max_prefetch, max(needed, previous // 2))
