"""``conveyor doctor``: runs the deployment checks and prints them as a table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from conveyor.doctor import Check


def render(checks: list[Check], console: Console) -> int:
    """Print the table and the verdict; the exit code (0 when every check passed)."""
    table = Table(title="conveyor doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for check in checks:
        status = "[green]pass[/]" if check.ok else "[red]FAIL[/]"
        table.add_row(check.name, status, check.detail)
    console.print(table)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        console.print(f"[red]failed:[/] {', '.join(failed)}")
        return 1
    console.print("[green]all checks passed[/]")
    return 0
