"""Reads of the cached leads: the Leads list and ``prospect list``, filtered and searched.

Search uses the trigram index for 3+ characters, and an exact scan for shorter text
or while a full resync has the index switched off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dmledger.domain.records import LocalLog, Prospect
from dmledger.local.base import StoreBase
from dmledger.local.rows import _log, _prospect, iso
from dmledger.local.schema import prospects


@dataclass(frozen=True)
class ProspectFilter:
    """What the Leads list and ``prospect list`` filter on; None means any."""

    status: str | None = None
    owner_actor: str | None = None
    owner_operator: str | None = None
    search: str | None = None
    contacted_from: datetime | None = None
    contacted_to: datetime | None = None


@dataclass(frozen=True)
class CardRows:
    """What a status card is made of, as cached."""

    prospect: Prospect | None
    recent_logs: list[LocalLog]  # newest first
    edits_queued: bool
    notices: list[str]


class LeadReads(StoreBase):
    """Filtered, searched pages and counts of the cached leads, and the status card."""

    def card_rows(self, conn: sa.Connection, handle: str, recent: int) -> CardRows:
        """The rows of one lead's status card: four reads by key. The extension's status
        check is the hot path, so these are plain SQL (no statement to build, compile
        and look up in SQLAlchemy's cache per call)."""
        found = conn.exec_driver_sql(_CARD_PROSPECT, (handle,)).first()
        logs = conn.exec_driver_sql(_CARD_LOGS, (handle, recent)).all()
        queued = conn.exec_driver_sql(_CARD_EDITS, (handle,)).first() is not None
        notices = [str(r[0]) for r in conn.exec_driver_sql(_CARD_NOTICES, (handle,))]
        return CardRows(
            None if found is None else _prospect(found), [_log(r) for r in logs], queued, notices
        )

    def list_prospects(
        self,
        conn: sa.Connection,
        where: ProspectFilter,
        *,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Prospect]:
        """A keyset page in handle order: pass the last handle of a page as ``after``."""
        statement = sa.select(prospects)
        statement = self._filtered(statement, where, self._scan(conn, where))
        if after is not None:
            statement = statement.where(prospects.c.target_username > after)
        statement = statement.order_by(prospects.c.target_username).limit(limit)
        return [_prospect(r) for r in conn.execute(statement)]

    def count_prospects(self, conn: sa.Connection, where: ProspectFilter) -> int:
        statement = self._filtered(
            sa.select(sa.func.count()).select_from(prospects), where, self._scan(conn, where)
        )
        return int(conn.execute(statement).scalar_one())

    def _scan(self, conn: sa.Connection, where: ProspectFilter) -> bool:
        """Search by an exact scan instead of the index (while it is being rebuilt)?"""
        return bool(where.search) and self.search_indexing(conn)

    def _filtered(
        self, statement: sa.Select[Any], where: ProspectFilter, scan: bool = False
    ) -> sa.Select[Any]:
        c = prospects.c
        if where.status is not None:
            statement = statement.where(c.status == where.status)
        if where.owner_actor is not None:
            statement = statement.where(c.owner_actor == where.owner_actor)
        if where.owner_operator is not None:
            statement = statement.where(c.owner_operator == where.owner_operator)
        if where.contacted_from is not None:
            statement = statement.where(c.first_contacted >= iso(where.contacted_from))
        if where.contacted_to is not None:
            statement = statement.where(c.first_contacted < iso(where.contacted_to))
        if where.search:
            text = where.search.strip().lower()
            if len(text) >= 3 and not scan:
                # The trigram index finds substrings of 3+ characters without a scan.
                quoted = '"' + text.replace('"', '""') + '"'
                matches = sa.text("SELECT rowid FROM prospects_fts WHERE prospects_fts MATCH :q")
                statement = statement.where(
                    sa.literal_column("prospects.rowid").in_(
                        matches.bindparams(q=quoted).columns(sa.column("rowid"))
                    )
                )
            else:
                pattern = (
                    "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                statement = statement.where(
                    sa.or_(
                        c.target_username.like(pattern, escape="\\"),
                        sa.func.lower(c.notes).like(pattern, escape="\\"),
                    )
                )
        return statement


_CARD_PROSPECT = "SELECT * FROM prospects WHERE target_username = ?"
_CARD_LOGS = (
    "SELECT * FROM outreach_logs WHERE target_username = ? ORDER BY timestamp DESC, id DESC LIMIT ?"
)
_CARD_EDITS = "SELECT 1 FROM outbox WHERE target_username = ? LIMIT 1"
_CARD_NOTICES = "SELECT text FROM notices WHERE target_username = ? ORDER BY id"
