"""The Team analytics: the raw figures read from the logs, the rollup tables kept by
triggers and the fold, and the Team page's figures read from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.cloud.analytics.fold import bring_up_to_date, install
    from dmledger.cloud.analytics.page import TeamFigures, team_figures
    from dmledger.cloud.analytics.raw import LogFilter, double_contacts
    from dmledger.cloud.analytics.raw_followups import rate_row
    from dmledger.cloud.analytics.rollups import OPERATOR_GRANTS, ROLLUP_VERSION

_EXPORTS = {
    "bring_up_to_date": "fold",
    "double_contacts": "raw",
    "install": "fold",
    "LogFilter": "raw",
    "OPERATOR_GRANTS": "rollups",
    "rate_row": "raw_followups",
    "ROLLUP_VERSION": "rollups",
    "team_figures": "page",
    "TeamFigures": "page",
}
__all__ = [
    "OPERATOR_GRANTS",
    "ROLLUP_VERSION",
    "LogFilter",
    "TeamFigures",
    "bring_up_to_date",
    "double_contacts",
    "install",
    "rate_row",
    "team_figures",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
