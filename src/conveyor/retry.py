"""RetryPolicy: how long a failed job waits before its next attempt (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter on the top half.

    The delay before attempt ``n + 1`` (after attempt ``n`` failed) is
    ``min(max_delay, base_delay * factor ** (n - 1))``, then jittered down by up to
    ``jitter`` of itself so that jobs which failed together do not retry together.

    Attributes:
        base_delay: delay after the first failure (default 1 s).
        factor: growth per attempt (default 2).
        max_delay: ceiling on any delay (default 1 hour).
        jitter: fraction of the delay that is randomised away, 0..1 (default 0.25).
    """

    base_delay: timedelta = timedelta(seconds=1)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base_delay < timedelta(0) or self.max_delay < timedelta(0):
            raise ValueError("retry delays must not be negative")
        if self.factor < 1:
            raise ValueError("retry factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("retry jitter must be between 0 and 1")

    def next_delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """Delay before the attempt after ``attempt`` (1-based) failed."""
        exponent = max(0, attempt - 1)
        # Cap the exponent so float arithmetic cannot overflow for absurd attempt counts.
        raw = self.base_delay.total_seconds() * self.factor ** min(exponent, 64)
        capped = min(raw, self.max_delay.total_seconds())
        spread = capped * self.jitter * (rng or random).random()
        return timedelta(seconds=capped - spread)
