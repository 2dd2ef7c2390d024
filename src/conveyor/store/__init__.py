"""Job stores: one interface (``base``), two implementations (``postgres``, ``sqlite``)."""

from __future__ import annotations

from conveyor.store.base import Store
from conveyor.store.factory import open_store, store_for_url

__all__ = ["Store", "open_store", "store_for_url"]
