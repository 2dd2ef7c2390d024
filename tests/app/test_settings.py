"""Settings and database URLs: environment variables, the default SQLite file, bad URLs."""

from __future__ import annotations

import traceback
from pathlib import Path

import pydantic
import pytest

from conveyor import (
    ConfigurationError,
    Conveyor,
    JobState,
    MigrationRequired,
    StoreUnavailable,
)
from conveyor.settings import Settings
from conveyor.store.factory import sqlite_path
from conveyor.store.sql import load_migrations


class Note(pydantic.BaseModel):
    text: str


async def write_note(payload: Note) -> None:
    """Something to enqueue."""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CONVEYOR_* variable of the surrounding shell leaks into these tests."""
    for name in ("DATABASE_URL", "DATA_DIR", "AUTO_MIGRATE", "LEASE_TTL_SECONDS"):
        monkeypatch.delenv(f"CONVEYOR_{name}", raising=False)


async def _enqueue_one(app: Conveyor) -> int:
    name = f"{write_note.__module__}.{write_note.__qualname__}"
    task = app.tasks.get(name) or app.task(write_note)
    job = await task.enqueue(Note(text="hello"))
    return job.id


def test_database_url_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", url)

    assert Conveyor().settings.resolved_database_url == url
    explicit = f"sqlite:///{tmp_path / 'explicit.db'}"
    assert Conveyor(explicit).settings.resolved_database_url == explicit, "an argument wins"


async def test_the_environment_url_is_the_one_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "nested" / "from-env.db"
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", f"sqlite:///{path}")

    app = Conveyor()
    try:
        job_id = await _enqueue_one(app)
    finally:
        await app.close()

    assert path.is_file()
    again = Conveyor(f"sqlite:///{path}")
    try:
        assert (await again.get_job(job_id)).state is JobState.AVAILABLE
    finally:
        await again.close()


async def test_the_default_url_is_an_sqlite_file_under_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CONVEYOR_DATA_DIR", str(data_dir))

    app = Conveyor()
    url = app.settings.resolved_database_url
    assert app.settings.data_dir == data_dir
    assert url.startswith("sqlite:///")
    assert Path(sqlite_path(url)) == data_dir / "conveyor.db"
    try:
        await _enqueue_one(app)
    finally:
        await app.close()
    assert (data_dir / "conveyor.db").is_file()


async def test_without_any_setting_the_file_is_dot_conveyor_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    app = Conveyor()
    assert app.settings.database_url is None
    assert app.settings.data_dir == Path(".conveyor")
    assert Path(sqlite_path(app.settings.resolved_database_url)) == Path(".conveyor/conveyor.db")
    try:
        await _enqueue_one(app)
    finally:
        await app.close()
    assert (tmp_path / ".conveyor" / "conveyor.db").is_file()


def test_an_empty_database_url_means_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", "")
    monkeypatch.setenv("CONVEYOR_DATA_DIR", str(tmp_path))
    url = Conveyor().settings.resolved_database_url
    assert Path(sqlite_path(url)) == tmp_path / "conveyor.db"


def test_other_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_LEASE_TTL_SECONDS", "12.5")
    monkeypatch.setenv("CONVEYOR_AUTO_MIGRATE", "false")

    settings = Conveyor("sqlite:///unused.db").settings

    assert settings.lease_ttl_seconds == 12.5
    assert settings.auto_migrate is False
    assert Settings().lease_ttl_seconds == 12.5


def test_invalid_settings_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="lease_ttl_seconds"):
        Conveyor("sqlite:///unused.db", lease_ttl_seconds=0)
    monkeypatch.setenv("CONVEYOR_LEASE_TTL_SECONDS", "soon")
    with pytest.raises(ConfigurationError, match="lease_ttl_seconds"):
        Conveyor("sqlite:///unused.db")


async def test_without_auto_migrate_a_fresh_database_needs_migrate(sqlite_url: str) -> None:
    app = Conveyor(sqlite_url, auto_migrate=False)
    try:
        with pytest.raises(MigrationRequired) as info:
            await _enqueue_one(app)
        latest = len(load_migrations("conveyor.store.sqlite"))
        assert (info.value.current, info.value.expected) == (0, latest)
        assert await app.migrate() == latest
        assert await _enqueue_one(app) > 0
    finally:
        await app.close()


MALFORMED = [
    "mysql://x",
    "sqlite:/nope",
    "sqlite://",
    "not a url",
    "http://example.com/db",
    "postgresql://[::1/db",
]


@pytest.mark.parametrize("url", MALFORMED)
async def test_a_malformed_url_is_a_configuration_error_naming_it(url: str) -> None:
    app: Conveyor | None = None
    try:
        with pytest.raises(ConfigurationError) as info:
            app = Conveyor(url)
            await _enqueue_one(app)
        assert url in str(info.value)
    finally:
        if app is not None:
            await app.close()


@pytest.mark.parametrize("url", MALFORMED)
async def test_a_malformed_url_from_the_environment_is_refused_too(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", url)
    # Refused when the app is built, before anything could be enqueued through it.
    with pytest.raises(ConfigurationError, match="URL") as info:
        Conveyor()
    assert url in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/x",
        "postgresql://u:secret@127.0.0.1:1/x",
        "postgresql+psycopg://u:secret@127.0.0.1:1/x",
        "postgresql://u:secret%21@127.0.0.1:1/x",
        "postgresql://u@127.0.0.1:1/x?password=secret",
    ],
)
async def test_an_unreachable_postgres_is_store_unavailable(url: str) -> None:
    app = Conveyor(url)
    try:
        with pytest.raises(StoreUnavailable) as info:
            await _enqueue_one(app)
        message = str(info.value)
        assert "127.0.0.1:1" in message
        everything = "".join(traceback.format_exception(info.value)) + repr(info.value)
        assert "secret" not in everything
        # Nothing was left half-open: the next attempt tries (and fails) again.
        with pytest.raises(StoreUnavailable):
            await app.store()
    finally:
        await app.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
async def test_postgres_url_schemes(pg_url: str, scheme: str) -> None:
    app = Conveyor(scheme + pg_url.removeprefix("postgresql"))
    try:
        job_id = await _enqueue_one(app)
        assert (await app.get_job(job_id)).state is JobState.AVAILABLE
    finally:
        await app.close()
