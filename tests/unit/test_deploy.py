"""The deployment files: every ``conveyor`` command in them (and in the deploying how-to)
is a valid invocation, and what stops a worker waits longer than the worker's drain."""

from __future__ import annotations

import configparser
import inspect
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from conveyor.cli.main import cli
from conveyor.worker.worker import WorkerOptions

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
HOWTO = ROOT / "docs" / "howto" / "deploying.md"


def parse(args: list[str]) -> None:
    """Parse ``conveyor ARGS`` down to the last subcommand, converting every value as click
    would, without running anything; raises click's error for a bad invocation."""
    try:
        _parse(args)
    except click.exceptions.Exit as exc:  # --help: printed the help, a valid invocation
        assert exc.exit_code == 0


def _parse(args: list[str]) -> None:
    command: click.Command = cli
    ctx = command.make_context("conveyor", list(args), resilient_parsing=False)
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        name, *rest = rest
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"no such command {name!r}")
        command = sub
        ctx = command.make_context(name, rest, parent=ctx, resilient_parsing=False)


def unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def unit_args(path: Path) -> list[str]:
    words = shlex.split(unit(path)["Service"]["ExecStart"].replace("%i", "default"))
    assert Path(words[0]).name == "conveyor", words
    return words[1:]


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def compose_commands() -> list[tuple[str, list[str]]]:
    services = compose()["services"]
    return [(name, s["command"]) for name, s in services.items() if "command" in s]


def howto_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", HOWTO.read_text(), flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    found = []
    for line in lines:
        words = shlex.split(line)
        at = [i for i, w in enumerate(words) if w == "conveyor" or w.endswith("/bin/conveyor")]
        if at and "docker" not in words:
            found.append(shlex.join(words[at[-1] + 1 :]))
    return found


def drain_default() -> float:
    """The drain timeout a worker uses when none is given, from the code: the CLI option's
    default, which must agree with the library's."""
    worker = cli.commands["worker"]
    [option] = [p for p in worker.params if p.name == "drain_timeout"]
    assert isinstance(option.default, float | int)
    library = inspect.signature(WorkerOptions).parameters["drain_timeout"].default
    assert option.default == library.total_seconds()
    return float(option.default)


def drain_of(args: list[str]) -> float:
    if "--drain-timeout" in args:
        return float(args[args.index("--drain-timeout") + 1])
    return drain_default()


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", str(text).strip())
    assert match, text
    value, unit_name = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit_name]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_units_run_valid_commands(path: Path) -> None:
    parse(unit_args(path))


@pytest.mark.parametrize(("service", "command"), compose_commands())
def test_compose_services_run_valid_commands(service: str, command: list[str]) -> None:
    parse(command)


@pytest.mark.parametrize("line", howto_commands())
def test_commands_in_the_deploying_howto_are_valid(line: str) -> None:
    parse(shlex.split(line))


def test_the_howto_shows_commands_at_all() -> None:
    assert len(howto_commands()) >= 5


def test_dockerfile_has_conveyor_as_entry_point_and_a_valid_default_command() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["conveyor"\]$', text, flags=re.M)
    [cmd] = re.findall(r"^CMD (\[.*\])$", text, flags=re.M)
    parse(yaml.safe_load(cmd))
    assert re.search(r"^USER conveyor$", text, flags=re.M), "runs as an unprivileged user"
    assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 2, "multi-stage"


def test_worker_unit_waits_longer_than_the_drain() -> None:
    path = DEPLOY / "systemd" / "conveyor-worker@.service"
    service = unit(path)["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert seconds(service["TimeoutStopSec"]) > drain_of(unit_args(path))
    assert seconds(service["TimeoutStopSec"]) > drain_default()


def test_compose_workers_wait_longer_than_the_drain() -> None:
    workers = {
        name: s
        for name, s in compose()["services"].items()
        if s.get("command", [""])[0] == "worker"
    }
    assert len(workers) == 2
    for name, service in workers.items():
        assert seconds(service["stop_grace_period"]) > drain_of(service["command"]), name


def test_compose_has_postgres_a_one_shot_migrate_and_healthchecks() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("postgres", "api", "worker-1", "worker-2"):
        assert "healthcheck" in services[name], name
    for name in ("api", "worker-1", "worker-2"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_the_parser_rejects_a_bad_invocation() -> None:
    with pytest.raises(click.UsageError):
        parse(["worker", "--no-such-option"])
    with pytest.raises(click.BadParameter):
        parse(["worker", "--concurrency", "many"])
    with pytest.raises(click.UsageError):
        parse(["no-such-command"])
