"""``conveyor schedules …`` as a real subprocess against a real store."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.cli.conftest import SUBPROCESS_TIMEOUT, Cli

pytestmark = pytest.mark.timeout(SUBPROCESS_TIMEOUT)

PAYLOAD = json.dumps(
    {
        "customer_email": "ana@example.com",
        "customer_name": "Ana",
        "wash": "deluxe",
        "amount_cents": 2499,
    }
)


def create(conveyor: Cli, *extra: str) -> subprocess.CompletedProcess[str]:
    created = conveyor(
        "schedules", "create", "nightly", "receipts.send", "--cron", "0 2 * * *",
        "--payload", PAYLOAD, *extra,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return created


def test_create_and_list(conveyor: Cli) -> None:
    created = create(conveyor, "--timezone", "America/Chicago", "--json")
    assert json.loads(created.stdout)["timezone"] == "America/Chicago"
    listed = conveyor("schedules", "list", "--json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["nightly"]
    assert "nightly" in conveyor("schedules", "list").stdout


def test_pause_resume_update(conveyor: Cli) -> None:
    create(conveyor)
    assert conveyor("schedules", "pause", "nightly").returncode == 0
    shown = json.loads(conveyor("schedules", "show", "nightly", "--json").stdout)
    assert shown["paused"] is True
    assert conveyor("schedules", "resume", "nightly").returncode == 0
    updated = conveyor("schedules", "update", "nightly", "--every", "3600", "--json")
    assert json.loads(updated.stdout)["every_seconds"] == 3600.0


def test_trigger_and_delete(conveyor: Cli) -> None:
    create(conveyor)
    triggered = conveyor("schedules", "trigger", "nightly", "--json")
    assert triggered.returncode == 0, triggered.stderr
    [job] = json.loads(triggered.stdout)
    assert job["schedule"]["name"] == "nightly"
    assert conveyor("schedules", "delete", "nightly").returncode == 0
    missing = conveyor("schedules", "show", "nightly")
    assert missing.returncode == 1 and "nightly" in missing.stderr


def test_invalid_cron_or_zone_exits_2_with_a_clear_message(conveyor: Cli) -> None:
    bad_cron = conveyor(
        "schedules", "create", "x", "receipts.send", "--cron", "0 2 * *", "--payload", PAYLOAD
    )
    assert bad_cron.returncode == 2
    assert "invalid cron expression" in bad_cron.stderr and "Traceback" not in bad_cron.stderr
    bad_zone = conveyor(
        "schedules", "create", "x", "receipts.send", "--cron", "0 2 * * *",
        "--timezone", "Atlantis/Capital", "--payload", PAYLOAD,
    )  # fmt: skip
    assert bad_zone.returncode == 2 and "unknown time zone" in bad_zone.stderr
    assert json.loads(conveyor("schedules", "list", "--json").stdout) == []
