"""The exchange with the agents: the push (DMs and edits), the pull (header and pages),
the team's settings (rules and templates), and the per-dialect statements they share
(insert-if-absent, the contact upsert, MERGE, the rules written as SQL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.cloud.exchange.merge import Merge
    from dmledger.cloud.exchange.pull import naive_utc, now_of, settling, watermark_of
    from dmledger.cloud.exchange.push import delete_prospects
    from dmledger.cloud.exchange.team_settings import (
        TEAM_VERSION_KEY,
        apply_team_edits,
        delete_template,
        put_template,
        read_team_config,
        set_rules,
    )
    from dmledger.cloud.exchange.upsert import insert_ignore

_EXPORTS = {
    "apply_team_edits": "team_settings",
    "delete_prospects": "push",
    "delete_template": "team_settings",
    "insert_ignore": "upsert",
    "Merge": "merge",
    "naive_utc": "pull",
    "now_of": "pull",
    "put_template": "team_settings",
    "read_team_config": "team_settings",
    "set_rules": "team_settings",
    "settling": "pull",
    "TEAM_VERSION_KEY": "team_settings",
    "watermark_of": "pull",
}
__all__ = [
    "TEAM_VERSION_KEY",
    "Merge",
    "apply_team_edits",
    "delete_prospects",
    "delete_template",
    "insert_ignore",
    "naive_utc",
    "now_of",
    "put_template",
    "read_team_config",
    "set_rules",
    "settling",
    "watermark_of",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
