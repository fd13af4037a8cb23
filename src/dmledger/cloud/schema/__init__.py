"""The cloud schema's life: the DDL per dialect, the schema version and the upgrade
chain, and the least-privilege roles (grants, the teammates' login).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.cloud.schema.ddl import DIALECTS, create_statements, render_script
    from dmledger.cloud.schema.grants import (
        ROLES,
        ensure_login,
        grant_statements,
        login_name,
        login_statement,
    )
    from dmledger.cloud.schema.upgrade import STEPS, rebase_cursor
    from dmledger.cloud.schema.version import schema_version, set_schema_version

_EXPORTS = {
    "create_statements": "ddl",
    "DIALECTS": "ddl",
    "ensure_login": "grants",
    "grant_statements": "grants",
    "login_name": "grants",
    "login_statement": "grants",
    "rebase_cursor": "upgrade",
    "render_script": "ddl",
    "ROLES": "grants",
    "schema_version": "version",
    "set_schema_version": "version",
    "STEPS": "upgrade",
}
__all__ = [
    "DIALECTS",
    "ROLES",
    "STEPS",
    "create_statements",
    "ensure_login",
    "grant_statements",
    "login_name",
    "login_statement",
    "rebase_cursor",
    "render_script",
    "schema_version",
    "set_schema_version",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
