"""Cloud statements for replies, follow-up dates, the team's rules and its templates.

Used by the push inside its transaction (the statements for replies and follow-up
dates, the per-lead DM figures) and by the app for the team-wide rules and templates. Every
statement here is portable SQLAlchemy Core (the push adds replies with the
insert-if-absent of ``upsert``); ``statements()`` lists them for the Oracle checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dmledger.cloud.tables import (
    dmledger_info,
    message_templates,
    outreach_logs,
    prospect_replies,
    prospects,
    team_rules,
)
from dmledger.domain.records import TeamConfig, TeamEdit
from dmledger.domain.statuses import LEGACY_ALIASES, Status, status_after_reply

TEAM_VERSION_KEY = "team_version"

#: Statuses (lower-case) a reply moves to ``warm``; anything later stays (never backwards).
BEFORE_WARM = tuple(
    [s.value for s in Status if status_after_reply(s) is not s]
    + [k for k, v in LEGACY_ALIASES.items() if status_after_reply(v) is not v]
)


def _p(name: str) -> sa.ColumnElement[Any]:
    return prospects.c[name]


def dm_figures_statement() -> sa.Update:
    """The lead's last DM and DM count from its logs; a newer DM clears a follow-up date
    set by hand (the follow-up was sent). Idempotent: a repeated push changes nothing."""
    logs = outreach_logs.c
    target = logs.target_username == _p("target_username")
    # Correlated to the updated lead explicitly: nested in the text's subquery below,
    # auto-correlation would look only one level up.
    latest = (
        sa.select(sa.func.max(logs.created_at)).where(target).correlate(prospects).scalar_subquery()
    )
    count = sa.select(sa.func.count()).select_from(outreach_logs).where(target).scalar_subquery()
    # The latest DM's text, without LIMIT (a bind on Oracle; portable this way).
    last = outreach_logs.alias("last_log")
    text = (
        sa.select(sa.func.max(last.c.message_text))
        .where(
            last.c.target_username == _p("target_username"),
            last.c.created_at == latest,
        )
        .correlate(prospects)
        .scalar_subquery()
    )
    return (
        sa.update(prospects)
        .where(_p("target_username") == sa.bindparam("t"))
        .values(
            last_dm_at=latest,
            dm_count=count,
            last_message=text,
            follow_up_at=sa.case(
                (sa.or_(_p("last_dm_at").is_(None), latest > _p("last_dm_at")), sa.null()),
                else_=_p("follow_up_at"),
            ),
        )
    )


def reply_effect_statement() -> sa.Update:
    """After replies are stored: ``warm`` from an earlier status, and the latest reply."""
    replies = prospect_replies.c
    latest = (
        sa.select(sa.func.max(replies.replied_at))
        .where(replies.target_username == _p("target_username"))
        .scalar_subquery()
    )
    status = _p("status")
    # Our own constants, rendered as literals (an expanding IN would need every bind).
    early = sa.or_(
        status.is_(None),
        sa.func.lower(status).in_([sa.literal_column(f"'{v}'") for v in BEFORE_WARM]),
    )
    return (
        sa.update(prospects)
        .where(_p("target_username") == sa.bindparam("t"))
        .values(
            status=sa.case((early, sa.literal(Status.WARM.value)), else_=status),
            last_reply_at=latest,
        )
    )


def follow_up_statement() -> sa.Update:
    return (
        sa.update(prospects)
        .where(_p("target_username") == sa.bindparam("t"))
        .values(follow_up_at=sa.bindparam("f", type_=sa.TIMESTAMP))
    )


def delete_replies_statement() -> sa.Delete:
    return sa.delete(prospect_replies).where(
        prospect_replies.c.target_username == sa.bindparam("t")
    )


def team_config_statement() -> sa.CompoundSelect[Any]:
    """Rules and templates in one round trip."""
    return sa.union_all(
        sa.select(
            sa.literal("R").label("kind"),
            team_rules.c.rule_key.label("name"),
            team_rules.c.rule_value.label("value"),
        ),
        sa.select(
            sa.literal("T"), message_templates.c.template_name, message_templates.c.template_text
        ),
        sa.select(sa.literal("V"), dmledger_info.c.info_key, dmledger_info.c.info_value).where(
            dmledger_info.c.info_key == TEAM_VERSION_KEY
        ),
    )


def dm_figures_of(
    created_at: sa.ColumnElement[Any], message_text: sa.ColumnElement[Any]
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """PostgreSQL: a lead's DM figures as aggregates over its logs (grouped by lead):
    the latest time, the count, and the latest DM's text (the greatest text when DMs
    tie, as ``dm_figures_statement``'s ``max()``; none when no DM has a time). The one
    place the batch forms say the rule: the push's insert of new leads and the update
    below."""
    latest = sa.func.max(created_at)
    ordered = postgresql.aggregate_order_by(
        message_text, created_at.desc().nulls_last(), message_text.desc().nulls_last()
    )
    text = sa.case((latest.is_(None), sa.null()), else_=sa.func.array_agg(ordered)[1])
    return latest, sa.func.count(), text


def dm_figures_set_statement(handles: Sequence[str]) -> sa.Update:
    """PostgreSQL: ``dm_figures_statement`` for a whole batch in one statement (one
    round trip, one firing of the statement triggers).

    The batch's logs are read once, grouped by lead (``= ANY``: an index or a single
    scan, whatever the statistics say), and joined to the batch's handles: no plan
    here repeats a read per lead. The per-lead form's single-``max`` subqueries could
    be planned as a backward walk of ``ix_logs_created`` filtered by lead, which read
    every newer log for each lead (seconds per batch at 100,000s of logs).

    Only leads whose figures change are updated: a new lead's were set by the push's
    insert (``push.push_logs``), so it gets no second row version, no stamp and no
    foreign-key re-check."""
    logs = outreach_logs.c
    batch = sa.bindparam("targets", list(handles), type_=postgresql.ARRAY(sa.Text))
    targets = sa.func.unnest(batch).table_valued("handle").render_derived(name="dm_targets")
    latest, count, text = dm_figures_of(logs.created_at, logs.message_text)
    grouped = (
        sa.select(
            logs.target_username,
            latest.label("latest"),
            count.label("dms"),
            text.label("text"),
        )
        .where(logs.target_username == sa.func.any(batch))
        .group_by(logs.target_username)
        .subquery("dm_figures")
    )
    found = (
        sa.select(
            targets.c.handle,
            grouped.c.latest,
            sa.func.coalesce(grouped.c.dms, 0).label("dms"),
            grouped.c.text,
        )
        .select_from(targets.outerjoin(grouped, grouped.c.target_username == targets.c.handle))
        .subquery("found")
    )
    values: dict[str, sa.ColumnElement[Any]] = {
        "last_dm_at": found.c.latest,
        "dm_count": found.c.dms,
        "last_message": found.c.text,
        "follow_up_at": sa.case(
            (
                sa.or_(_p("last_dm_at").is_(None), found.c.latest > _p("last_dm_at")),
                sa.null(),
            ),
            else_=_p("follow_up_at"),
        ),
    }
    changes = sa.or_(*(_p(name).is_distinct_from(value) for name, value in values.items()))
    return (
        sa.update(prospects)
        .where(_p("target_username") == found.c.handle, changes)
        .values(**values)
    )


def refresh_dm_figures(conn: sa.Connection, handles: Sequence[str]) -> None:
    if not handles:
        return
    unique = sorted(set(handles))
    if conn.dialect.name == "postgresql":
        conn.execute(dm_figures_set_statement(unique))
    else:
        conn.execute(dm_figures_statement(), [{"t": h} for h in unique])


def delete_replies(conn: sa.Connection, handles: Sequence[str]) -> None:
    if handles:
        conn.execute(delete_replies_statement(), [{"t": h} for h in handles])


def read_team_config(conn: sa.Connection) -> TeamConfig:
    rules: dict[str, str] = {}
    templates: dict[str, str] = {}
    version = None
    for row in conn.execute(team_config_statement()):
        if row.kind == "R":
            rules[row.name] = row.value
        elif row.kind == "T":
            templates[row.name] = row.value
        else:
            version = row.value
    return TeamConfig(rules, templates, version)


def _bump_version(conn: sa.Connection) -> None:
    """Every home reads the rules and templates again at its next sync's header."""
    value = uuid.uuid4().hex
    updated = conn.execute(
        sa.update(dmledger_info)
        .where(dmledger_info.c.info_key == TEAM_VERSION_KEY)
        .values(info_value=value)
    ).rowcount
    if not updated:
        conn.execute(sa.insert(dmledger_info).values(info_key=TEAM_VERSION_KEY, info_value=value))


def set_rules(conn: sa.Connection, values: dict[str, str]) -> None:
    for key, value in values.items():
        updated = conn.execute(
            sa.update(team_rules).where(team_rules.c.rule_key == key).values(rule_value=value)
        ).rowcount
        if not updated:
            conn.execute(sa.insert(team_rules).values(rule_key=key, rule_value=value))
    _bump_version(conn)


def put_template(conn: sa.Connection, name: str, text: str, operator: str | None) -> bool:
    """Add or replace a template; True when it is new."""
    t = message_templates.c
    updated = conn.execute(
        sa.update(message_templates)
        .where(t.template_name == name)
        .values(template_text=text, operator_name=operator, updated_at=sa.func.current_timestamp())
    ).rowcount
    if not updated:
        conn.execute(
            sa.insert(message_templates).values(
                template_name=name, template_text=text, operator_name=operator
            )
        )
    _bump_version(conn)
    return not updated


def delete_template(conn: sa.Connection, name: str) -> bool:
    deleted = conn.execute(
        sa.delete(message_templates).where(message_templates.c.template_name == name)
    ).rowcount
    if deleted:
        _bump_version(conn)
    return bool(deleted)


def apply_team_edits(conn: sa.Connection, edits: Sequence[TeamEdit]) -> None:
    """A home's queued template and rule changes, in the order made (the caller's
    transaction): the last one pushed wins. A delete of a template already gone is a
    no-op, so a repeated push changes nothing."""
    for edit in edits:
        if edit.op == "template":
            put_template(conn, edit.name, edit.text or "", edit.operator)
        elif edit.op == "template_delete":
            delete_template(conn, edit.name)
        else:
            set_rules(conn, {edit.name: edit.text or ""})


def statements() -> dict[str, sa.Executable]:
    """Every statement above, for the static Oracle checks."""
    return {
        "dm_figures": dm_figures_statement(),
        "reply_effect": reply_effect_statement(),
        "follow_up": follow_up_statement(),
        "delete_replies": delete_replies_statement(),
        "team_config": team_config_statement(),
    }
