"""The wheel and sdist build, carry the SQL, the dashboard's templates and static files
and py.typed, and install without extras."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_TASK = ROOT / "docs" / "examples" / "first_task.py"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a private copy: a build writes build/ and *.egg-info beside the sources,
    # and two test processes building the project in place at once broke each other.
    source = tmp_path_factory.mktemp("source") / "conveyor"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".site", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, source)
    return out


def test_the_wheel_carries_sql_files_and_py_typed(dist: Path) -> None:
    (wheel,) = dist.glob("conveyor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "conveyor/py.typed" in names
    for dialect in ("sqlite", "postgres"):
        assert f"conveyor/store/{dialect}/queries.sql" in names
        migrations = [n for n in names if n.startswith(f"conveyor/store/{dialect}/migrations/")]
        assert any(n.endswith("0001_initial.sql") or n.endswith(".sql") for n in migrations)
    for asset in (
        "templates/base.html",
        "templates/partials/overview.html",
        "static/htmx.min.js",
        "static/dashboard.css",
    ):
        assert f"conveyor/dashboard/{asset}" in names, f"the wheel lacks the dashboard's {asset}"
    assert not any(n.startswith("carwash/") for n in names), "the example ships on its own"
    assert list(dist.glob("conveyor-*.tar.gz")), "no sdist was built"


def test_the_wheel_without_extras_runs_a_task_on_sqlite(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("conveyor-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "-c",
        ROOT / "constraints.txt",
        wheel,
    )
    installed = run(python, "-m", "pip", "list", "--format=freeze").lower()
    for extra_only in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "aiosmtpd", "jinja2"):
        assert f"{extra_only}==" not in installed, f"{extra_only} came without its extra"
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    done = subprocess.run(
        [str(python), str(FIRST_TASK)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "completed {'sent_to': 1}"
    missing = subprocess.run(
        [str(env_dir / "bin" / "conveyor"), "--app", "x:y", "serve"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "pip install 'conveyor[api]'" in missing.stderr
