"""The local SQLite store: the cache of prospects, the offline queue of DMs, the outbox
of edits, and the cache's meta keys.

The front door for the rest of DM Ledger: ``LocalStore`` and the few names here.
``reader`` reads the Today list with the standard library alone (the fast start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.local import backup as backup
    from dmledger.local import integrity as integrity
    from dmledger.local import meta_keys as meta_keys
    from dmledger.local import reader as reader
    from dmledger.local import rebuild as rebuild
    from dmledger.local.effects import apply_dm_to_cache, apply_edit_to_cache, apply_to_cache
    from dmledger.local.followups import (
        cached_templates,
        keep_team_config,
        pending_team_edits,
        queue_team_edit,
        remove_team_edits,
    )
    from dmledger.local.integrity import translated
    from dmledger.local.reader import DB_NAME
    from dmledger.local.salvage import OPS, Row, Salvage
    from dmledger.local.store import LocalStore, ProspectFilter, iso

_EXPORTS = {
    "backup": "backup",
    "DB_NAME": "reader",
    "integrity": "integrity",
    "OPS": "salvage",
    "rebuild": "rebuild",
    "Row": "salvage",
    "Salvage": "salvage",
    "translated": "integrity",
    "apply_dm_to_cache": "effects",
    "apply_edit_to_cache": "effects",
    "apply_to_cache": "effects",
    "cached_templates": "followups",
    "iso": "store",
    "keep_team_config": "followups",
    "LocalStore": "store",
    "meta_keys": "meta_keys",
    "pending_team_edits": "followups",
    "ProspectFilter": "store",
    "queue_team_edit": "followups",
    "reader": "reader",
    "remove_team_edits": "followups",
}
__all__ = [
    "DB_NAME",
    "OPS",
    "LocalStore",
    "ProspectFilter",
    "Row",
    "Salvage",
    "apply_dm_to_cache",
    "apply_edit_to_cache",
    "apply_to_cache",
    "backup",
    "cached_templates",
    "integrity",
    "iso",
    "keep_team_config",
    "meta_keys",
    "pending_team_edits",
    "queue_team_edit",
    "reader",
    "rebuild",
    "remove_team_edits",
    "translated",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
