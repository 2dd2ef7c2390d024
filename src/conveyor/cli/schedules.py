"""``conveyor schedules list|show|create|update|delete|pause|resume|trigger``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import click

from conveyor.cli.command import parse_payload
from conveyor.cli.render import print_json

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from conveyor.app import Conveyor
    from conveyor.schedule import ScheduleInfo

Runner = Callable[[Callable[..., Coroutine[Any, Any, None]]], Callable[..., None]]
AppLoader = Callable[[click.Context], "Conveyor"]
ConsoleOf = Callable[[], "Console"]


def schedules_table(infos: list[ScheduleInfo]) -> Table:
    from rich.table import Table

    table = Table(title="schedules")
    for column in ("name", "task", "rule", "zone", "state", "next fire", "last run"):
        table.add_column(column, overflow="fold")
    for info in infos:
        spec = info.spec
        rule = spec.cron or f"every {spec.every}"
        last = "" if info.last_fire_at is None else f"{info.last_fire_at:%Y-%m-%d %H:%M:%S}"
        if info.last_job_state is not None:
            last += f" ({info.last_job_state.value})"
        table.add_row(
            info.name,
            spec.task,
            rule + (" per tenant" if spec.per_tenant else ""),
            spec.timezone,
            "paused" if info.paused else "active",
            "" if info.next_fire_at is None else f"{info.next_fire_at:%Y-%m-%d %H:%M:%S} UTC",
            last,
        )
    return table


def _payload(text: str | None) -> dict[str, Any] | None:
    return None if text is None else parse_payload(text)


def _rule_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options create and update share (update changes only the ones given)."""
    options = [
        click.option("--cron", help='5-field cron, e.g. "0 2 * * *", or @daily, @hourly…'),
        click.option("--every", type=float, help="Interval in seconds (instead of --cron)."),
        click.option("--timezone", help="IANA zone the cron is read in (default UTC)."),
        click.option("--payload", "payload_json", help="The job payload as a JSON object."),
        click.option("--queue"),
        click.option("--priority", type=int),
        click.option("--catch-up", type=click.Choice(["latest", "all", "skip"])),
        click.option("--overlap/--no-overlap", default=None, help="Fire while a run is going."),
        click.option("--run-on-startup/--no-run-on-startup", default=None),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _changes(**given: Any) -> dict[str, Any]:
    names = {"overlap": "allow_overlap"}
    return {names.get(k, k): v for k, v in given.items() if v is not None}


def schedules_group(run: Runner, app_from: AppLoader, console: ConsoleOf) -> click.Group:
    """The ``schedules`` command group, built on main's runner and app loader."""

    @click.group("schedules")
    def schedules() -> None:
        """Manage schedules (those declared in code are listed too)."""

    def show(info: ScheduleInfo, as_json: bool) -> None:
        if as_json:
            print_json(info.to_json())
        else:
            console().print(schedules_table([info]))

    _read_commands(schedules, run, app_from, console, show)
    _edit_commands(schedules, run, app_from, show)
    _action_commands(schedules, run, app_from, console)
    return schedules


Show = Callable[["ScheduleInfo", bool], None]


def _read_commands(
    schedules: click.Group, run: Runner, app_from: AppLoader, console: ConsoleOf, show: Show
) -> None:
    @schedules.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    @run
    async def list_command(ctx: click.Context, as_json: bool) -> None:
        """Every schedule with its next fire time and last run."""
        app = app_from(ctx)
        try:
            infos = await app.list_schedules()
        finally:
            await app.close()
        if as_json:
            print_json([info.to_json() for info in infos])
        else:
            console().print(schedules_table(infos))

    @schedules.command("show")
    @click.argument("name")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    @run
    async def show_command(ctx: click.Context, name: str, as_json: bool) -> None:
        """One schedule."""
        app = app_from(ctx)
        try:
            show(await app.get_schedule(name), as_json)
        finally:
            await app.close()


def _edit_commands(schedules: click.Group, run: Runner, app_from: AppLoader, show: Show) -> None:
    @schedules.command("create")
    @click.argument("name")
    @click.argument("task")
    @_rule_options
    @click.option("--run-immediately", is_flag=True, help="An interval's first fire is now.")
    @click.option("--initial-delay", type=float, help="Seconds before an interval's first fire.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    @run
    async def create_command(
        ctx: click.Context,
        name: str,
        task: str,
        payload_json: str | None,
        as_json: bool,
        **given: Any,
    ) -> None:
        """Create schedule NAME firing TASK (--cron or --every)."""
        options = _changes(**given)
        options["run_immediately"] = bool(options.get("run_immediately"))
        app = app_from(ctx)
        try:
            info = await app.create_schedule(name, task, payload=_payload(payload_json), **options)
        finally:
            await app.close()
        show(info, as_json)

    @schedules.command("update")
    @click.argument("name")
    @_rule_options
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    @run
    async def update_command(
        ctx: click.Context, name: str, payload_json: str | None, as_json: bool, **given: Any
    ) -> None:
        """Change the given options of schedule NAME."""
        changes = _changes(**given)
        payload = _payload(payload_json)
        if payload is not None:
            changes["payload"] = payload
        app = app_from(ctx)
        try:
            info = await app.update_schedule(name, **changes)
        finally:
            await app.close()
        show(info, as_json)


def _action_commands(
    schedules: click.Group, run: Runner, app_from: AppLoader, console: ConsoleOf
) -> None:
    def simple(command: str, action: Callable[[Conveyor, str], Any], help_text: str) -> None:
        @schedules.command(command, help=help_text)
        @click.argument("name")
        @click.pass_context
        @run
        async def handler(ctx: click.Context, name: str) -> None:
            app = app_from(ctx)
            try:
                outcome = await action(app, name)
            finally:
                await app.close()
            from conveyor.schedule import ScheduleInfo

            if isinstance(outcome, ScheduleInfo):
                console().print(schedules_table([outcome]))
            else:
                console().print(f"{command}: {name}")

    simple("delete", lambda app, name: app.delete_schedule(name), "Delete schedule NAME.")
    simple("pause", lambda app, name: app.pause_schedule(name), "Pause schedule NAME.")
    simple("resume", lambda app, name: app.resume_schedule(name), "Resume schedule NAME.")

    @schedules.command("trigger")
    @click.argument("name")
    @click.option("--tenant", help="Only this tenant of a per-tenant schedule.")
    @click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
    @click.pass_context
    @run
    async def trigger_command(
        ctx: click.Context, name: str, tenant: str | None, as_json: bool
    ) -> None:
        """Enqueue schedule NAME's job now."""
        app = app_from(ctx)
        try:
            jobs = await app.trigger_schedule(name, tenant=tenant)
        finally:
            await app.close()
        if as_json:
            print_json([job.to_json() for job in jobs])
        else:
            ids = ", ".join(str(job.id) for job in jobs)
            console().print(f"triggered {name}: enqueued job(s) {ids}")
