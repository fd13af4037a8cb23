"""The local side of follow-ups: the team's rule and templates as cached, and the
changes to them made here and queued for the next sync (``team_outbox``).

The due list itself is read by ``local/reader.py`` (``prospects.due_at``, kept by the
store from ``domain.followups.due_at``; the partial indexes on ``due_at`` make it a
range read, not a scan, at a million leads).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from dmledger.domain.followups import FollowUpRule, rule_of, rule_values
from dmledger.domain.records import TeamConfig, TeamEdit
from dmledger.local import meta_keys as keys
from dmledger.local.schema import meta, prospects, team_outbox, templates
from dmledger.local.store import (
    LocalStore,
    follow_up_values,
    iso,
)


def keep_team_config(store: LocalStore, conn: sa.Connection, config: TeamConfig) -> bool:
    """Keep the team's rule and templates as read from the cloud, with this home's
    queued changes on top (made while the sync ran, or refused to it: a pull never
    undoes local work); when the rule changed, every lead's due time is computed
    again. Returns whether it did."""
    shown = with_edits(config, pending_team_edits(conn))
    changed = store_team_config(store, conn, rule_of(shown.rules), shown.templates)
    store.set_meta(conn, keys.TEAM_VERSION, config.version)
    return changed


# -- changes made here, queued -----------------------------------------------------------


def queue_team_edit(store: LocalStore, conn: sa.Connection, edit: TeamEdit, at: datetime) -> bool:
    """Queue a change to the team's templates or rule and show it here at once (works
    offline). Returns whether the rule changed (every due time was computed again)."""
    conn.execute(
        sa.insert(team_outbox).values(
            op=edit.op, name=edit.name, text=edit.text, operator=edit.operator, created_at=iso(at)
        )
    )
    shown = with_edits(local_team_config(store, conn), [edit])
    return store_team_config(store, conn, rule_of(shown.rules), shown.templates)


def pending_team_edits(conn: sa.Connection) -> list[TeamEdit]:
    """This home's queued team changes, in the order made."""
    t = team_outbox.c
    rows = conn.execute(sa.select(t.seq, t.op, t.name, t.text, t.operator).order_by(t.seq))
    return [TeamEdit(r.seq, r.op, r.name, r.text, r.operator) for r in rows]


def remove_team_edits(conn: sa.Connection, seqs: list[int]) -> None:
    """Forget queued changes once the cloud has them (and how far it has them: seqs
    only grow, so the last is the highest)."""
    if seqs:
        conn.execute(sa.delete(team_outbox).where(team_outbox.c.seq.in_(seqs)))
        conn.execute(
            sa.insert(meta)
            .prefix_with("OR REPLACE")
            .values(key=keys.TEAM_EDITS_PUSHED_THROUGH, value=str(max(seqs)))
        )


def local_team_config(store: LocalStore, conn: sa.Connection) -> TeamConfig:
    """The rule and templates as this home shows them."""
    return TeamConfig(rule_values(store.follow_up_rule(conn)), cached_templates(conn))


def with_edits(config: TeamConfig, edits: list[TeamEdit]) -> TeamConfig:
    """``config`` after ``edits`` in order: what the cloud holds once they reach it."""
    rules, kept = dict(config.rules), dict(config.templates)
    for edit in edits:
        if edit.op == "template":
            kept[edit.name] = edit.text or ""
        elif edit.op == "template_delete":
            kept.pop(edit.name, None)
        else:
            rules[edit.name] = edit.text or ""
    return TeamConfig(rules, dict(sorted(kept.items())), config.version)


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
