"""Choosing and opening the store a database URL names."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from conveyor.errors import ConfigurationError
from conveyor.store.base import Store

_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}


def sqlite_path(url: str) -> str:
    """The file an ``sqlite:///relative`` or ``sqlite:////absolute`` URL names."""
    rest = url[len("sqlite://") :]
    if not url.startswith("sqlite:///") or rest == "/":
        raise ConfigurationError(
            f"malformed SQLite URL {url!r}: use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db"
        )
    path = unquote(rest[1:].split("?", 1)[0])
    return path if path == ":memory:" else str(Path(path))


def store_for_url(url: str) -> Store:
    """The store for ``url`` (not yet open). Raises ``ConfigurationError`` for a URL of
    an unknown kind, naming it."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise ConfigurationError(f"malformed database URL {url!r}: {exc}") from exc
    if scheme == "sqlite":
        from conveyor.store.sqlite.store import SqliteStore

        return SqliteStore(sqlite_path(url))
    if scheme in _POSTGRES_SCHEMES:
        from conveyor.store.postgres.store import PostgresStore

        # psycopg reads postgresql:// and postgres://; the SQLAlchemy-style driver suffix not.
        return PostgresStore("postgresql" + url[len(scheme) :])
    raise ConfigurationError(
        f"unsupported database URL {url!r}: expected sqlite:///path/to/file.db "
        "or postgresql://user@host:port/database"
    )


async def open_store(url: str, *, migrate: bool = False) -> Store:
    """Open the store for ``url``; migrate it first when asked."""
    store = store_for_url(url)
    await store.open()
    if migrate:
        await store.migrate()
    return store
