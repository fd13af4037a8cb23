"""What every route shares: the Ledger, the API token, the sync loop, the templates.

One ``WebState`` per app, kept in ``app.state.dmledger``. Routes reach it through the
``web_state`` dependency; they never build their own Ledger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request
from jinja2 import Environment

from dmledger.app.ledger import Ledger
from dmledger.app.views import SyncStatus
from dmledger.errors import DmLedgerError
from dmledger.sync.loop import SyncLoop

from .security import Redactor

log = logging.getLogger(__name__)


@dataclass
class WebState:
    """The app's one Ledger and the pieces built around it at startup."""

    ledger: Ledger
    token: str
    csrf_key: bytes
    redact: Redactor
    templates: Environment
    login_key: bytes | None = None  # None: the page login is off
    page_secret: str | None = None
    loop: SyncLoop | None = None
    asset_version: str = "1"

    def request_sync(self) -> None:
        """Ask the background loop for an early (debounced) sync after a local write."""
        if self.loop is not None:
            self.loop.request()

    def sync_now_quietly(self) -> None:
        """Run one sync in this thread (no loop running); failures are only logged."""
        try:
            self.ledger.sync()
        except DmLedgerError as error:
            log.warning("sync failed: %s", self.redact(str(error)))

    @property
    def cloud_known_down(self) -> bool:
        """True while the loop's last attempts failed: skip slow cloud reads on pages."""
        return self.loop is not None and self.loop.state.failures > 0

    def sync_status(self, *, check: bool = True) -> SyncStatus:
        """The local queue and last-sync facts; never touches the network. ``check``:
        SQLite's quick check of the queue's tables first (the API and the Admin page ask
        for it; the indicator on every page does not: it costs a read of every queued
        and sent DM of this machine)."""
        return self.ledger.status(probe_cloud=False, check=check)


async def web_state(request: Request) -> WebState:
    """FastAPI dependency: the app's WebState (async: no thread-pool hop for it)."""
    found = request.app.state.dmledger
    assert isinstance(found, WebState)
    return found
