"""The chaos summary at the end of a session: each scenario's counted figures."""

from __future__ import annotations

import pytest


def write_summary(terminal: pytest.TerminalReporter) -> None:
    lines = []
    for outcome in ("passed", "failed", "xfailed", "xpassed"):
        for report in terminal.stats.get(outcome, []):
            if getattr(report, "when", None) != "call":
                continue
            for name, figures in getattr(report, "user_properties", []):
                if name == "chaos":
                    shown = ", ".join(f"{key}={value}" for key, value in figures.items())
                    lines.append(f"{report.nodeid.split('::')[-1]} [{outcome}]: {shown}")
    if lines:
        terminal.write_sep("=", "chaos figures")
        for line in sorted(lines):
            terminal.write_line(line)
