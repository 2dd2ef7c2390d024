"""``conveyor jobs retry ID | --failed [--since …] [--until …] [--task …]``: one or in bulk."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from conveyor.cli.command import app_from, console, run
from conveyor.cli.render import print_job, print_json

_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, now: datetime) -> datetime:
    """A point in time from ``30m``/``2h``/``7d``/``1w`` (that long before ``now``) or an
    ISO 8601 date or time (UTC when it names no offset). Raises ``click.BadParameter``."""
    found = _DURATION.match(text.strip())
    if found:
        unit = _UNITS[found.group("unit")]
        return now - timedelta(**{unit: int(found.group("amount"))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration (30m, 2h, 7d, 1w) nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@click.command("retry")
@click.argument("job_id", type=int, required=False)
@click.option("--failed", "bulk", is_flag=True, help="Retry every failed job matching the filters.")
@click.option(
    "--since", help="With --failed: jobs that failed since then (2h, 7d, or an ISO 8601 time)."
)
@click.option("--until", help="With --failed: jobs that failed before then (same forms).")
@click.option("--task", multiple=True, help="With --failed: only jobs of this task (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@run
async def retry(
    ctx: click.Context,
    job_id: int | None,
    bulk: bool,
    since: str | None,
    until: str | None,
    task: tuple[str, ...],
    as_json: bool,
) -> None:
    """Make failed or cancelled job JOB_ID available again, or with --failed retry every
    failed job that matches --since, --until and --task (all of them when none is given)."""
    if (job_id is None) == (not bulk):
        raise click.UsageError("give a JOB_ID or --failed (not both)", ctx)
    if job_id is not None and (since or until or task):
        raise click.UsageError("--since, --until and --task go with --failed", ctx)
    app = app_from(ctx)
    now = app.clock.now()
    finished_after = None if since is None else parse_moment(since, now)
    finished_before = None if until is None else parse_moment(until, now)
    try:
        if job_id is not None:
            job = await app.retry(job_id)
            if as_json:
                print_json(job.to_json())
            else:
                print_job(console(), job)
            return
        count = await app.retry_failed(
            task=list(task) or None, finished_after=finished_after, finished_before=finished_before
        )
    finally:
        await app.close()
    if as_json:
        print_json({"retried": count})
    else:
        console().print(f"retried {count} failed job{'' if count == 1 else 's'}")
