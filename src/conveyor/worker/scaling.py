"""How many executors a worker should run for a given backlog (pure)."""

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
