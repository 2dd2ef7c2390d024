"""The item ledger on PostgreSQL: the shared ledger methods over PostgresStore's pool."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from conveyor.store.items import ItemLedgerMethods
from conveyor.store.postgres.runner import PostgresRunner


class PostgresItemLedger(PostgresRunner, ItemLedgerMethods):
    """``record_items``, ``done_item_keys``, ``count_items`` and ``list_items``."""

    @staticmethod
    def _recorded_at(value: Any) -> datetime:
        # psycopg returns timestamptz as an aware datetime already.
        return cast(datetime, value)
