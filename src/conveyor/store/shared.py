"""Every Store method written once for both dialects, gathered in one base class."""

from __future__ import annotations

from conveyor.store.batch_methods import BatchMethods
from conveyor.store.incident_methods import IncidentMethods
from conveyor.store.items import ItemLedgerMethods
from conveyor.store.job_methods import JobMethods
from conveyor.store.schedule_methods import ScheduleMethods
from conveyor.store.worker_methods import QueueAndWorkerMethods


class SharedMethods(
    JobMethods,
    QueueAndWorkerMethods,
    BatchMethods,
    ScheduleMethods,
    ItemLedgerMethods,
    IncidentMethods,
):
    """The base of both stores: each adds its connector (``_db``) and what its dialect
    does its own way (schema, insert pipeline, claim, acks, leases, transactions,
    wake-ups)."""
