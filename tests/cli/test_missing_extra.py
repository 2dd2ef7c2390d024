"""A command whose extra is not installed names the extra to install."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from conveyor.cli.main import cli


@pytest.mark.parametrize("command", ["serve", "api"])
def test_serve_without_the_api_extra_names_it(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # None in sys.modules makes `import uvicorn` raise ModuleNotFoundError, as if uninstalled.
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    monkeypatch.delitem(sys.modules, "conveyor.cli.serve", raising=False)
    result = CliRunner().invoke(cli, [command])
    assert result.exit_code != 0
    assert f"conveyor {command} needs the API extra: pip install 'conveyor[api]'" in result.output


def test_the_default_app_without_carwash_says_how_to_name_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONVEYOR_APP", raising=False)
    monkeypatch.setitem(sys.modules, "carwash", None)
    monkeypatch.delitem(sys.modules, "carwash.app", raising=False)
    result = CliRunner().invoke(cli, ["queues", "list"])
    assert result.exit_code != 0
    assert "pass --app module:attribute or set CONVEYOR_APP" in result.output
