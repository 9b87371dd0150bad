"""The national portal's sandbox on a live server (real HTTP between our client and it)."""

from types import SimpleNamespace

import pytest

from interop.client import Portal
from interop.sandbox.models import SandboxFaults


@pytest.fixture
def sandbox(transactional_db, live_server, settings):
    """The sandbox at `live_server`, our client pointed at it; `sandbox.faults(**rates)` sets faults."""
    url = f"{live_server.url}/sandbox/dvcqg"
    settings.DVCQG_URL = url
    settings.SITE_URL = live_server.url
    settings.DVCQG_TIMEOUT = 2.0
    settings.DVCQG_RETRY_SECONDS = 1
    settings.DVCQG_RETRY_MAX_SECONDS = 4

    def faults(**values):
        row = SandboxFaults.get()
        for name in ("fail_rate", "timeout_rate", "duplicate_rate", "reorder_rate"):
            setattr(row, name, values.get(name, 0))
        row.delay_seconds = values.get("delay_seconds", 3)
        row.down = values.get("down", False)
        row.save()

    return SimpleNamespace(url=url, live=live_server.url, portal=lambda: Portal(), faults=faults)
