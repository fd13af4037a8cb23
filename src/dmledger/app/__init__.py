"""Use cases shared by every interface, behind one object: ``Ledger``."""

from __future__ import annotations

from dmledger.app.ledger import Ledger

__all__ = ["Ledger"]
