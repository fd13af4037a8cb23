"""The schema version a cloud is at: read from ``dmledger_info``, written by each step
of the upgrade chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from dmledger.cloud import tables
from dmledger.cloud.tables import dmledger_info

if TYPE_CHECKING:
    from dmledger.cloud.connecting.database import CloudDatabase


def schema_version(db: CloudDatabase) -> int | None:
    """1 for a seed-only database, the recorded version for ours, None when empty."""
    existing = db.existing_tables()
    if "dmledger_info" in existing:
        with db.reading() as conn:
            value = conn.execute(
                sa.select(dmledger_info.c.info_value).where(
                    dmledger_info.c.info_key == "schema_version"
                )
            ).scalar_one_or_none()
        return int(value) if value is not None else None
    if {t.name for t in tables.SEED_TABLES} <= existing:
        return 1
    return None


def set_schema_version(conn: sa.Connection, version: int) -> None:
    """Record ``version``: each step of an upgrade records its own, so an upgrade
    stopped between two steps resumes at the next one."""
    conn.execute(
        sa.update(dmledger_info)
        .where(dmledger_info.c.info_key == "schema_version")
        .values(info_value=str(version))
    )
