"""The throughput chart: outcome counts per minute or hour as stacked bars in inline SVG.

Server-side geometry only (no chart library, no script): the template draws the
rectangles this computes, and a hover shows each bar's ``<title>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.stats import OutcomeCounts

WIDTH, HEIGHT = 720, 140


@dataclass(frozen=True, slots=True)
class Bar:
    """One bucket: the completed part stacked on the failed part (failed + retried)."""

    x: float
    width: float
    ok_y: float
    ok_height: float
    failed_y: float
    failed_height: float
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    peak: int
    first_label: str
    last_label: str
    completed: int
    failed: int
    width: int = WIDTH
    height: int = HEIGHT


def chart(series: list[OutcomeCounts], *, label: str) -> Chart:
    """Bars for ``series`` (oldest first); ``label`` is a ``strftime`` format for the
    bucket start (UTC) shown in each bar's title and under the ends of the axis."""
    peak = max((c.completed + c.failed + c.retried for c in series), default=0)
    step = WIDTH / max(1, len(series))
    scale = (HEIGHT - 2) / peak if peak else 0.0
    bars = []
    for index, counts in enumerate(series):
        failed = counts.failed + counts.retried
        failed_height = failed * scale
        ok_height = counts.completed * scale
        bars.append(
            Bar(
                x=round(index * step, 2),
                width=round(max(1.0, step - 1), 2),
                failed_y=round(HEIGHT - failed_height, 2),
                failed_height=round(failed_height, 2),
                ok_y=round(HEIGHT - failed_height - ok_height, 2),
                ok_height=round(ok_height, 2),
                title=f"{counts.start.strftime(label)} UTC: {counts.completed:,} completed, "
                f"{counts.failed:,} failed, {counts.retried:,} retried",
            )
        )
    return Chart(
        bars=bars,
        peak=peak,
        first_label=series[0].start.strftime(label) if series else "",
        last_label=series[-1].start.strftime(label) if series else "",
        completed=sum(c.completed for c in series),
        failed=sum(c.failed + c.retried for c in series),
    )
