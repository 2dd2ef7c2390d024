"""Site: what every dashboard page group is built from (the app facade and the auth)."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.app import Conveyor
from conveyor.dashboard.auth import DashboardAuth


@dataclass(frozen=True, slots=True)
class Site:
    """The app the pages read and steer (through its facade only) and who may do so."""

    app: Conveyor
    auth: DashboardAuth
