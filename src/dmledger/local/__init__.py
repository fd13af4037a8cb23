"""The local SQLite store: the cache of prospects, the offline queue of DMs, the outbox
of edits, and the cache's meta keys.

The front door for the rest of DM Ledger: ``LocalStore`` and the few names here.
``reader`` reads the Today list with the standard library alone (the fast start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.local import meta_keys as meta_keys
    from dmledger.local import reader as reader
    from dmledger.local.effects import apply_dm_to_cache, apply_edit_to_cache, apply_to_cache
    from dmledger.local.followups import (
        cached_templates,
        keep_team_config,
        pending_team_edits,
        queue_team_edit,
        remove_team_edits,
    )
    from dmledger.local.store import LocalStore, ProspectFilter, iso

_EXPORTS = {
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
    "LocalStore",
    "ProspectFilter",
    "apply_dm_to_cache",
    "apply_edit_to_cache",
    "apply_to_cache",
    "cached_templates",
    "iso",
    "keep_team_config",
    "meta_keys",
    "pending_team_edits",
    "queue_team_edit",
    "reader",
    "remove_team_edits",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
