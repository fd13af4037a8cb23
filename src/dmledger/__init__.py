"""DM Ledger: a local-first CRM for teams that do Instagram DM outreach by hand."""

from __future__ import annotations

__version__ = "0.1.0"
