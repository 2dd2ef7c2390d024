"""Alerts: built-in rules that mail and post to a webhook once per incident across a cluster."""

from __future__ import annotations

from conveyor.alerts.delivery import Alert, Deliverer
from conveyor.alerts.incidents import Claim, IncidentClaims, MemoryIncidents
from conveyor.alerts.rules import Alerts

__all__ = ["Alert", "Alerts", "Claim", "Deliverer", "IncidentClaims", "MemoryIncidents"]
