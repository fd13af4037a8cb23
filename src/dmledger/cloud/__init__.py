"""The cloud: the one shared database every teammate's agent syncs with (PostgreSQL,
Oracle Autonomous Database or an embedded SQLite file).

The front door for the rest of DM Ledger: ``CloudStore`` and the few functions named
here. The rooms inside (``connecting``, ``driver_errors``, ``schema``, ``exchange``,
``analytics``) each have a front door of their own for the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.cloud.analytics import LogFilter, bring_up_to_date, rate_row, team_figures
    from dmledger.cloud.connecting import (
        EWALLET_PEM,
        TNSNAMES_ORA,
        CloudDatabase,
        count_round_trips,
        create_cloud_engine,
        create_oracle_engine,
        load_wallet,
        oracle_target,
    )
    from dmledger.cloud.exchange import apply_team_edits, put_template, read_team_config, set_rules
    from dmledger.cloud.schema import (
        ROLES,
        ensure_login,
        grant_statements,
        login_name,
        render_script,
    )
    from dmledger.cloud.store import CloudStore
    from dmledger.cloud.tables import SCHEMA_VERSION
    from dmledger.cloud.urls import backend_of, redact_url

_EXPORTS = {
    "apply_team_edits": "exchange",
    "backend_of": "urls",
    "bring_up_to_date": "analytics",
    "CloudDatabase": "connecting",
    "CloudStore": "store",
    "count_round_trips": "connecting",
    "create_cloud_engine": "connecting",
    "create_oracle_engine": "connecting",
    "ensure_login": "schema",
    "EWALLET_PEM": "connecting",
    "grant_statements": "schema",
    "load_wallet": "connecting",
    "LogFilter": "analytics",
    "login_name": "schema",
    "oracle_target": "connecting",
    "put_template": "exchange",
    "rate_row": "analytics",
    "read_team_config": "exchange",
    "redact_url": "urls",
    "render_script": "schema",
    "ROLES": "schema",
    "SCHEMA_VERSION": "tables",
    "set_rules": "exchange",
    "team_figures": "analytics",
    "TNSNAMES_ORA": "connecting",
}
__all__ = [
    "EWALLET_PEM",
    "ROLES",
    "SCHEMA_VERSION",
    "TNSNAMES_ORA",
    "CloudDatabase",
    "CloudStore",
    "LogFilter",
    "apply_team_edits",
    "backend_of",
    "bring_up_to_date",
    "count_round_trips",
    "create_cloud_engine",
    "create_oracle_engine",
    "ensure_login",
    "grant_statements",
    "load_wallet",
    "login_name",
    "oracle_target",
    "put_template",
    "rate_row",
    "read_team_config",
    "redact_url",
    "render_script",
    "set_rules",
    "team_figures",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
