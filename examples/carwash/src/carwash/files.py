"""FileStore: uploaded files on local disk under ``CONVEYOR_DATA_DIR``, with metadata and
retention.

Each file is ``<root>/<id>.bin`` plus ``<root>/<id>.json`` (name, kind, size, sha256,
tenant, stored_at). Writes go to a temporary name and are renamed into place, so a
reader never sees half a file; ``cleanup`` deletes files older than the retention.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ID_LENGTH = 32


class FileTooLarge(Exception):
    """The upload is larger than the store accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file is larger than {limit} bytes")
        self.limit = limit


class FileMissing(Exception):
    """No stored file has this id (never stored, or cleaned up)."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What is known about one stored file."""

    id: str
    name: str
    kind: str
    size: int
    sha256: str
    tenant_id: int
    stored_at: str

    @property
    def stored_time(self) -> datetime:
        return datetime.fromisoformat(self.stored_at)


class FileStore:
    """Files of one ``kind`` or more under ``root``."""

    def __init__(self, root: Path, *, retention: timedelta) -> None:
        self.root = root
        self.retention = retention

    def _paths(self, file_id: str) -> tuple[Path, Path]:
        if len(file_id) != ID_LENGTH or not all(c in "0123456789abcdef" for c in file_id):
            raise FileMissing(file_id)
        return self.root / f"{file_id}.bin", self.root / f"{file_id}.json"

    async def save(
        self,
        chunks: AsyncIterator[bytes],
        *,
        name: str,
        kind: str,
        tenant_id: int,
        max_bytes: int,
    ) -> StoredFile:
        """Store the bytes ``chunks`` yields; raises ``FileTooLarge`` past ``max_bytes``
        (and keeps nothing)."""
        self.root.mkdir(parents=True, exist_ok=True)
        file_id = uuid.uuid4().hex
        data_path, meta_path = self._paths(file_id)
        partial = data_path.with_suffix(".part")
        digest = hashlib.sha256()
        size = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            stored = StoredFile(
                id=file_id,
                name=name[:255],
                kind=kind,
                size=size,
                sha256=digest.hexdigest(),
                tenant_id=tenant_id,
                stored_at=datetime.now(UTC).isoformat(),
            )
            meta_path.write_text(json.dumps(asdict(stored)), encoding="utf-8")
            partial.rename(data_path)
        except BaseException:
            partial.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            raise
        return stored

    def info(self, file_id: str) -> StoredFile:
        data_path, meta_path = self._paths(file_id)
        if not data_path.exists() or not meta_path.exists():
            raise FileMissing(file_id)
        return StoredFile(**json.loads(meta_path.read_text(encoding="utf-8")))

    def read(self, file_id: str) -> bytes:
        data_path, _ = self._paths(file_id)
        self.info(file_id)
        return data_path.read_bytes()

    def cleanup(self, *, now: datetime | None = None) -> int:
        """Delete files stored longer ago than the retention; returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = (now or datetime.now(UTC)) - self.retention
        removed = 0
        for meta_path in self.root.glob("*.json"):
            try:
                stored = self.info(meta_path.stem)
            except (FileMissing, ValueError, TypeError):
                continue
            if stored.stored_time < cutoff:
                meta_path.with_suffix(".bin").unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
                removed += 1
        return removed
