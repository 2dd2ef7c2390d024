"""The item ledger on SQLite: the shared ledger methods over SqliteStore's connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.store.items import ItemLedgerMethods
from conveyor.store.sqlite.runner import SqliteRunner


class SqliteItemLedger(SqliteRunner, ItemLedgerMethods):
    """``record_items``, ``done_item_keys``, ``count_items`` and ``list_items``."""

    @staticmethod
    def _recorded_at(value: Any) -> datetime:
        # The store's UTC text carries no offset.
        return datetime.fromisoformat(value + "+00:00")
