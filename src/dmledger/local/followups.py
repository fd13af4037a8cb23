"""The local side of follow-ups: the Today list, the team's rule and templates as cached.

The due list is read from the cache only (``prospects.due_at``, kept by the store
from ``domain.followups.due_at``), so it works offline; the partial indexes on
``due_at`` make it a range read, not a scan, at a million leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from dmledger.domain.followups import FollowUpRule, rule_of
from dmledger.domain.records import Prospect, TeamConfig
from dmledger.local import meta_keys as keys
from dmledger.local.schema import prospects, templates
from dmledger.local.store import (
    LocalStore,
    _prospect,
    follow_up_values,
    iso,
)

COUNT_CAP = 10_000


@dataclass(frozen=True)
class DueLead:
    prospect: Prospect
    due_at: datetime
    last_message: str | None  # the team's last DM text to the lead (as the cloud keeps it)


def due_leads(
    store: LocalStore,
    conn: sa.Connection,
    now: datetime,
    *,
    actor: str | None = None,
    operator: str | None = None,
    limit: int = 200,
) -> tuple[list[DueLead], int]:
    """Leads due at ``now``, most overdue first, and how many are due in all (counted up
    to ``COUNT_CAP + 1``: more than the cap reads as "more than 10,000")."""
    p = prospects.c
    where = [p.due_at.is_not(None), p.due_at <= iso(now)]
    if actor is not None:
        where.append(p.owner_actor == actor)
    if operator is not None:
        where.append(p.owner_operator == operator)
    rows = conn.execute(
        sa.select(prospects).where(*where).order_by(p.due_at, p.target_username).limit(limit)
    ).all()
    # Counting half a million due leads costs more than the page: count up to a cap.
    capped = sa.select(prospects.c.target_username).where(*where).limit(COUNT_CAP + 1)
    total = conn.execute(sa.select(sa.func.count()).select_from(capped.subquery()))
    found = [
        DueLead(_prospect(row), datetime.fromisoformat(row.due_at), row.last_message)
        for row in rows
    ]
    return found, int(total.scalar_one())


def keep_team_config(store: LocalStore, conn: sa.Connection, config: TeamConfig) -> bool:
    """Keep the team's rule and templates as read from the cloud; when the rule changed,
    every lead's due time is computed again. Returns whether it did."""
    changed = store_team_config(store, conn, rule_of(config.rules), config.templates)
    store.set_meta(conn, keys.TEAM_VERSION, config.version)
    return changed


def store_team_config(
    store: LocalStore,
    conn: sa.Connection,
    rule: FollowUpRule,
    team_templates: dict[str, str],
) -> bool:
    changed = store.follow_up_rule(conn) != rule
    store.set_meta(conn, keys.RULE_DAYS, str(rule.after_days))
    store.set_meta(conn, keys.RULE_MAX, str(rule.max_followups))
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
