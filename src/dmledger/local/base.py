"""What every part of the local store shares: the ``meta`` table and what it keeps
(the pull cursor, the team's follow-up rule, whether the search index is being built).
"""

from __future__ import annotations

import sqlalchemy as sa

from dmledger.domain.followups import FollowUpRule
from dmledger.domain.records import Cursor
from dmledger.local import meta_keys as keys
from dmledger.local.schema import meta, prospects


class StoreBase:
    """The meta key/value reads and writes the other parts of ``LocalStore`` build on."""

    # -- meta ----------------------------------------------------------------------

    def get_meta(self, conn: sa.Connection, key: str) -> str | None:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()
        return None if value is None else str(value)

    def set_meta(self, conn: sa.Connection, key: str, value: str | None) -> None:
        conn.execute(sa.insert(meta).prefix_with("OR REPLACE").values(key=key, value=value))

    def raise_meta(self, conn: sa.Connection, key: str, value: int) -> None:
        """Set a counter to ``value`` unless it is already higher."""
        current = self.get_meta(conn, key)
        if current is None or not current.isdigit() or int(current) < value:
            self.set_meta(conn, key, str(value))

    def delete_meta(self, conn: sa.Connection, key: str) -> None:
        conn.execute(sa.delete(meta).where(meta.c.key == key))

    def forget_cloud(self, conn: sa.Connection) -> None:
        """Empty the cache of leads and forget the cursor and the cloud's identity (after
        a factory reset of the cloud): the next sync reads everything again. Queued DMs
        and edits are kept."""
        conn.execute(sa.delete(prospects))
        conn.execute(sa.delete(meta).where(meta.c.key.in_(keys.CLOUD_CURSOR_KEYS)))

    def cursor(self, conn: sa.Connection) -> Cursor:
        version = self.get_meta(conn, keys.PULL_VERSION)
        handle = self.get_meta(conn, keys.PULL_HANDLE)
        if version is None:
            return Cursor()
        return Cursor(int(version), handle or "")

    def set_cursor(self, conn: sa.Connection, cursor: Cursor) -> None:
        self.set_meta(conn, keys.PULL_VERSION, str(cursor.version))
        self.set_meta(conn, keys.PULL_HANDLE, cursor.handle)

    # -- follow-ups --------------------------------------------------------------------

    def follow_up_rule(self, conn: sa.Connection) -> FollowUpRule:
        """The team's rule as last read from the cloud (the default before any)."""
        days = self.get_meta(conn, keys.RULE_DAYS)
        most = self.get_meta(conn, keys.RULE_MAX)
        default = FollowUpRule()
        return FollowUpRule(
            int(days) if days else default.after_days,
            int(most) if most is not None else default.max_followups,
        )

    def search_indexing(self, conn: sa.Connection) -> bool:
        """True while a full resync has the trigram index switched off."""
        return self.get_meta(conn, keys.SEARCH_INDEX_BUILDING) is not None
