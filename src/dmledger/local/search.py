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
from dmledger.domain.timeutil import iso
from dmledger.local.base import StoreBase
from dmledger.local.rows import LEAD_COLUMNS, _log, _prospect, lead_of


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
        """A keyset page in handle order: pass the last handle of a page as ``after``.

        Plain SQL fetched as tuples (the Leads page reads 500 rows per request); each
        filter has an index that yields its rows in handle order (schema.INDEXES), so a
        page reads about ``limit`` rows whatever the number of leads."""
        exact = self._exact(conn, where)
        terms, params = self._conditions(conn, where, exact, ordered=True, after=after)
        filtered = " WHERE " + " AND ".join(terms) if terms else ""
        sql = _SELECT + filtered
        if exact:
            # The exact scan walks the handle-and-notes index in handle order (no read
            # of the rows it skips), then reads the page's rows.
            inner = f"SELECT rowid FROM prospects{filtered} ORDER BY target_username LIMIT ?"
            sql = f"{_SELECT} WHERE rowid IN ({inner})"
            params.append(limit)
        sql += " ORDER BY target_username LIMIT ?"
        params.append(limit)
        return [lead_of(r) for r in conn.exec_driver_sql(sql, tuple(params))]

    def count_prospects(self, conn: sa.Connection, where: ProspectFilter) -> int:
        terms, params = self._conditions(conn, where, self._exact(conn, where), ordered=False)
        sql = "SELECT count(*) FROM prospects" + (" WHERE " + " AND ".join(terms) if terms else "")
        return int(conn.exec_driver_sql(sql, tuple(params)).scalar_one())

    def _exact(self, conn: sa.Connection, where: ProspectFilter) -> bool:
        """Search by an exact scan instead of the trigram index: for text shorter than a
        trigram, and while the index is being rebuilt (after a full resync)."""
        if not where.search:
            return False
        return len(where.search.strip()) < 3 or self.search_indexing(conn)

    def _conditions(
        self,
        conn: sa.Connection,
        where: ProspectFilter,
        exact: bool,
        *,
        ordered: bool,
        after: str | None = None,
    ) -> tuple[list[str], list[Any]]:
        """The WHERE terms (joined by AND) and their parameters of a filter. ``ordered``:
        for a page in handle order, where a search matching many leads is better walked
        in that order than fetched whole and sorted."""
        terms: list[str] = []
        params: list[Any] = []
        by_rowid = False  # a search with few matches: its rowids drive the plan
        if where.search:
            text = where.search.strip().lower()
            if not exact:
                # The trigram index finds substrings of 3+ characters without a scan.
                quoted = '"' + text.replace('"', '""') + '"'
                # Few matches: fetch them by rowid and sort them (the other terms get a
                # unary +, so no index of theirs competes). Many: walk the leads in handle
                # order (the + goes on the rowid) and stop at the page's end: sorting
                # 60,000 matches for 500 costs several times more.
                probe = (_FTS_DENSE, quoted, _FTS_DENSE)
                dense = ordered and bool(conn.exec_driver_sql(_FTS_PROBE, probe).scalar_one())
                by_rowid = not dense
                terms.append(f"{'+' if dense else ''}rowid IN ({_FTS_MATCH})")
                params.append(quoted)
            else:
                pattern = (
                    "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                terms.append(
                    "(target_username LIKE ? ESCAPE '\\' OR lower(notes) LIKE ? ESCAPE '\\')"
                )
                params.extend((pattern, pattern))
        plus = "+" if by_rowid else ""
        for column, value in (
            ("status", where.status),
            ("owner_actor", where.owner_actor),
            ("owner_operator", where.owner_operator),
        ):
            if value is not None:
                terms.append(f"{plus}{column} = ?")
                params.append(value)
        if where.contacted_from is not None:
            terms.append(f"{plus}first_contacted >= ?")
            params.append(iso(where.contacted_from))
        if where.contacted_to is not None:
            terms.append(f"{plus}first_contacted < ?")
            params.append(iso(where.contacted_to))
        if after is not None:  # the keyset: handles after the previous page's last
            terms.append(f"{plus}target_username > ?")
            params.append(after)
        return terms, params


_SELECT = "SELECT " + ", ".join(LEAD_COLUMNS) + " FROM prospects"
_FTS_MATCH = "SELECT rowid FROM prospects_fts WHERE prospects_fts MATCH ?"
# Past this many matches a search walks handle order (see _conditions): where sorting
# the matches and walking to the page's end cost about the same at 1,000,000 leads.
_FTS_DENSE = 8000
_FTS_PROBE = (
    "SELECT count(*) >= ? FROM (SELECT 1 FROM prospects_fts WHERE prospects_fts MATCH ? LIMIT ?)"
)
_CARD_PROSPECT = "SELECT * FROM prospects WHERE target_username = ?"
_CARD_LOGS = (
    "SELECT * FROM outreach_logs WHERE target_username = ? ORDER BY timestamp DESC, id DESC LIMIT ?"
)
_CARD_EDITS = "SELECT 1 FROM outbox WHERE target_username = ? LIMIT 1"
_CARD_NOTICES = "SELECT text FROM notices WHERE target_username = ? ORDER BY id"
