"""Renders the results file as Markdown: the full table for docs/benchmarks.md and the
short one for the README, each written between its ``bench:table`` markers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from benchmarks.metrics import (
    CONVEYOR,
    LIMITS,
    METRICS,
    PEERS,
    advantage,
    best_peer,
    share_of_limit,
)

START, END = "<!-- bench:table:start -->", "<!-- bench:table:end -->"
ORDER = [*CONVEYOR, *PEERS, *LIMITS.values()]


def _number(value: float, unit: str) -> str:
    if unit in ("ms", "%"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _rows(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for metric in METRICS:
        source = "W1" if metric == "W5/2" else metric  # W5 at 2 processes is W1
        if source in results:
            rows.append((metric, results[source]))
    return rows


def _ratio_cells(metric: str, by_system: dict[str, Any]) -> list[str]:
    medians = {name: float(cell["median"]) for name, cell in by_system.items()}
    best = best_peer(metric, medians)
    cells = []
    for name in CONVEYOR:
        if best is None or name not in medians:
            cells.append("")
            continue
        ratio = advantage(metric, medians[name], best[1])
        cells.append("" if ratio is None else f"{ratio:.2f}x ({best[0]})")
    return cells


def full_table(document: dict[str, Any]) -> str:
    results = document["results"]
    systems = [s for s in ORDER if any(s in cells for cells in results.values())]
    head = ["workload", "unit", *systems, *(f"{c} vs best peer" for c in CONVEYOR)]
    head.append("share of raw limit")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric, by_system in _rows(results):
        unit = METRICS[metric].unit
        cells = [METRICS[metric].label, unit]
        for name in systems:
            cell = by_system.get(name)
            cells.append(
                "n/a"
                if cell is None
                else f"**{_number(cell['median'], unit)}** "
                f"({_number(cell['min'], unit)}-{_number(cell['max'], unit)})"
            )
        cells += _ratio_cells(metric, by_system)
        cells.append(share_of_limit({n: float(c["median"]) for n, c in by_system.items()}))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def short_table(document: dict[str, Any]) -> str:
    results = document["results"]
    systems = [s for s in ORDER if any(s in cells for cells in results.values())]
    lines = [
        "| workload | "
        + " | ".join(systems)
        + " | Conveyor-PG vs best peer | share of raw limit |",
        "|" + "---|" * (len(systems) + 3),
    ]
    for metric, by_system in _rows(results):
        if metric.startswith("W7 rss") or metric == "W2 p95":
            continue
        unit = METRICS[metric].unit
        cells = [f"{METRICS[metric].label} ({unit})"]
        cells += [
            _number(by_system[s]["median"], unit) if s in by_system else "n/a" for s in systems
        ]
        cells.append(_ratio_cells(metric, by_system)[0])
        cells.append(share_of_limit({n: float(c["median"]) for n, c in by_system.items()}))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def context(document: dict[str, Any]) -> str:
    m = document["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in sorted(document["versions"].items()))
    shared = (
        " The machine is a virtual machine on a shared host whose speed drifts from"
        " minute to minute, so figures are noisy; compare within one run."
        if m.get("shared")
        else ""
    )
    errors = "".join(f"\n\nFailed: {e}" for e in document.get("errors", []))
    return (
        f"Measured {document['generated_at']} with `{document['command']}` "
        f"({document['runs']} runs each; median, then min-max; took "
        f"{document['duration_seconds'] / 60:.0f} min) on {m['cpus']} CPUs, "
        f"{m['memory_gib']} GiB, {m['platform']}, Python {m['python']}, PostgreSQL "
        f"{m['postgresql']}; {versions}.{shared}{errors}"
    )


def replace_between_markers(text: str, body: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"no {START} ... {END} markers to write the table between")
    return pattern.sub(lambda _: f"{START}\n{body}\n{END}", text, count=1)


def render(results_file: Path, docs: Path, readme: Path) -> None:
    document = json.loads(results_file.read_text())
    docs.write_text(
        replace_between_markers(docs.read_text(), full_table(document) + "\n\n" + context(document))
    )
    readme.write_text(
        replace_between_markers(
            readme.read_text(), short_table(document) + "\n\n" + context(document)
        )
    )
