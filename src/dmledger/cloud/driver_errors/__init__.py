"""The translation of driver errors: what a psycopg, sqlite3 or python-oracledb error
means for the sync (``Refusal``), and the DM Ledger error a person reads (``translate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.cloud.driver_errors.kinds import Refusal
    from dmledger.cloud.driver_errors.translation import classify, translate

_EXPORTS = {
    "classify": "translation",
    "Refusal": "kinds",
    "translate": "translation",
}
__all__ = [
    "Refusal",
    "classify",
    "translate",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
