"""The `conveyor ...` commands the new how-to pages show parse as the CLI parses them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.unit.test_deploy import parse

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["howto/upgrading.md", "howto/retries-and-errors.md", "howto/deploying.md"]


def commands(page: str) -> list[str]:
    """Each `conveyor` command line of the page's ```sh blocks, its comment dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", (DOCS / page).read_text(), flags=re.S)
    found = []
    for line in (line for block in blocks for line in block.splitlines()):
        if not line.lstrip().startswith(("conveyor ", "CONVEYOR_", "sudo ")):
            continue  # curl and the like
        words = shlex.split(line, comments=True)
        at = [i for i, w in enumerate(words) if w == "conveyor" or w.endswith("/bin/conveyor")]
        if at and "docker" not in words:
            found.append(shlex.join(words[at[-1] + 1 :]))
    return found


@pytest.mark.parametrize("line", [c for page in PAGES for c in commands(page)])
def test_a_command_in_the_howto_pages_is_valid(line: str) -> None:
    parse(shlex.split(line))


@pytest.mark.parametrize("page", PAGES)
def test_each_page_shows_commands(page: str) -> None:
    assert commands(page)
