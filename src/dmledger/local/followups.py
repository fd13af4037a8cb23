"""The local side of follow-ups: the team's rule and templates as cached.

The due list itself is read by ``local/reader.py`` (``prospects.due_at``, kept by the
store from ``domain.followups.due_at``; the partial indexes on ``due_at`` make it a
range read, not a scan, at a million leads).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from dmledger.domain.followups import FollowUpRule, rule_of
from dmledger.domain.records import TeamConfig
from dmledger.local.schema import prospects, templates
from dmledger.local.store import (
    RULE_DAYS_KEY,
    RULE_MAX_KEY,
    LocalStore,
    follow_up_values,
)

TEAM_VERSION_KEY = "team_version"  # meta: the version of the team's rules and templates kept


def keep_team_config(store: LocalStore, conn: sa.Connection, config: TeamConfig) -> bool:
    """Keep the team's rule and templates as read from the cloud; when the rule changed,
    every lead's due time is computed again. Returns whether it did."""
    changed = store_team_config(store, conn, rule_of(config.rules), config.templates)
    store.set_meta(conn, TEAM_VERSION_KEY, config.version)
    return changed


def store_team_config(
    store: LocalStore,
    conn: sa.Connection,
    rule: FollowUpRule,
    team_templates: dict[str, str],
) -> bool:
    changed = store.follow_up_rule(conn) != rule
    store.set_meta(conn, RULE_DAYS_KEY, str(rule.after_days))
    store.set_meta(conn, RULE_MAX_KEY, str(rule.max_followups))
    conn.execute(sa.delete(templates))
    if team_templates:
        conn.execute(
            sa.insert(templates), [{"name": n, "text": t} for n, t in team_templates.items()]
        )
    if changed:
        recompute_due(store, conn)
    return changed


def recompute_due(store: LocalStore, conn: sa.Connection) -> None:
    """Every cached lead's ``due_at`` under the current rule (after the rule changed)."""
    rule = store.follow_up_rule(conn)
    p = prospects.c
    rows = conn.execute(
        sa.select(
            p.target_username, p.status, p.last_dm_at, p.dm_count, p.last_reply_at, p.follow_up_at
        ).where(sa.or_(p.last_dm_at.is_not(None), p.follow_up_at.is_not(None)))
    ).all()
    updates = []
    for r in rows:
        values = follow_up_values(
            rule,
            r.status,
            _dt(r.last_dm_at),
            r.dm_count or 0,
            _dt(r.last_reply_at),
            _dt(r.follow_up_at),
        )
        updates.append({"t": r.target_username, "d": values["due_at"]})
    for start in range(0, len(updates), 10_000):
        conn.execute(
            sa.update(prospects)
            .where(p.target_username == sa.bindparam("t"))
            .values(due_at=sa.bindparam("d")),
            updates[start : start + 10_000],
        )


def cached_templates(conn: sa.Connection) -> dict[str, str]:
    rows = conn.execute(sa.select(templates.c.name, templates.c.text).order_by(templates.c.name))
    return {r.name: r.text for r in rows}


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
