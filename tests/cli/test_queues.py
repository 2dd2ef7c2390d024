"""``conveyor queues list|pause|resume`` as real subprocesses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import RECEIPT, SUBPROCESS_TIMEOUT, Cli

pytestmark = pytest.mark.timeout(SUBPROCESS_TIMEOUT)


def _listed(conveyor: Cli) -> dict[str, dict[str, Any]]:
    done = conveyor("queues", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {queue["name"]: queue for queue in json.loads(done.stdout)}


def test_pause_list_and_resume_a_queue(conveyor: Cli) -> None:
    paused = conveyor("queues", "pause", "email")  # the car-wash app's receipts queue
    assert paused.returncode == 0, paused.stderr
    assert "email is paused" in paused.stdout
    enqueued = conveyor("enqueue", "receipts.send", "--json", json.dumps(RECEIPT))
    assert enqueued.returncode == 0, enqueued.stderr  # a paused queue still accepts jobs

    email = _listed(conveyor)["email"]
    assert email["paused"] is True and email["paused_at"] is not None
    assert email["counts"]["available"] == 1
    human = conveyor("queues", "list")
    assert human.returncode == 0, human.stderr
    assert "email" in human.stdout and "paused" in human.stdout

    resumed = conveyor("queues", "resume", "email", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["paused"] is False
    assert json.loads(resumed.stdout)["counts"]["available"] == 1


def test_bad_queue_names_and_missing_arguments_exit_2(conveyor: Cli) -> None:
    empty = conveyor("queues", "pause", "")
    assert empty.returncode == 2 and "queue" in empty.stderr
    assert "Traceback" not in empty.stderr
    assert conveyor("queues", "resume").returncode == 2
