"""The Team page's rollups (schema version 6): small tables the Team queries read
instead of the outreach logs, kept exact by triggers and a fold.

Tables (all new; the seed's tables are unchanged):

- ``rollup_lead_days``: one row per (lead, actor, effective operator, UTC day, UTC
  hour) with the lead's current status (lower-case), the DMs and the last DM time.
  For each of four groupings of a lead -- the lead alone, (lead, actor), (lead,
  operator), (lead, actor, operator) -- a row carries ``s_*`` = 1 when it is the
  grouping's first row of its day, and then ``p_*`` = the grouping's previous day with
  DMs (NULL: none before). A grouping has a DM in the days [S, E) exactly when one of
  its rows in [S, E) has ``s_* = 1`` and ``p_*`` NULL or before S, so a distinct count
  of leads over any whole-day period is a plain SUM (the "first in period" rows);
- ``rollup_firsts``: those first rows summed per (kind, day, previous day, actor,
  operator, status), ``kind`` naming the grouping (``KINDS``);
- ``rollup_status``: DMs per (day, actor, operator, status);
- ``rollup_hours``: DMs per (day, hour, actor, operator), with the day's weekday: the
  heatmap;
- ``rollup_doubles``: the leads that more than one actor ever messaged, with their
  first and last day (the candidates of a period's double contacts);
- ``rollup_double_rows``: those leads' detail rows (what double contacts read);
- the follow-up figures (``followup_figures.py``): on each detail row, its DMs
  later than the lead's first contact and the lead's facts (replied, first contact,
  first reply, open, DM count, last DM); ``rollup_firsts.replied``;
  ``rollup_status.followups``; ``rollup_reply_firsts`` / ``rollup_open_firsts``: the
  first rows of the replied / open leads with their facts; ``rollup_lead_templates``:
  detail rows per (lead, template, actor, operator, day) with first-row marks, summed
  in ``rollup_template_firsts``;
- ``rollup_dirty``: the leads whose rows must be recomputed (a queue written by
  triggers), ``rollup_work``: the leads one fold is recomputing, ``rollup_state``: one
  row, the fold's lock and the summaries' size.

Kept exact by **triggers that queue, and a fold that recomputes**: a trigger on
``outreach_logs`` (insert, update, delete), on ``prospects`` (a change of status or of
a column in ``LEAD_FACTS``), on ``prospect_replies`` and on ``actors`` (a new owner,
which changes the seed tool's DMs' operator) queues the leads concerned, whoever
writes -- DM Ledger or a foreign tool. ``fold`` (run before every Team report) takes
the queue, subtracts the queued leads' old detail rows from the summaries, recomputes
their detail rows from their raw logs (few rows per lead, ``ix_logs_target``) and adds
them back: the summaries hold signed delta rows that the queries SUM, and are
recomputed from the detail when the deltas outgrow them (amortised O(1) per change). A
fold costs O(DMs of the leads changed since the last one). Deleting a lead (erasure)
blanks its handle in the detail rows and drops its double-contact row in the deleting
transaction (a trigger on ``prospects``); the next fold subtracts those rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.schema import CreateIndex, CreateTable

from dmledger.cloud import tables
from dmledger.cloud.tables import varchar

#: Rollup schema version: the cloud schema version that added the rollups.
ROLLUP_VERSION = 6

#: The groupings of a lead whose first rows ``rollup_firsts`` sums, by kind number:
#: which of (actor, operator) each keeps.
KINDS = {0: (), 1: ("actor",), 2: ("op",), 3: ("actor", "op")}

_NUMBER_19 = oracle.NUMBER(19)  # type: ignore[no-untyped-call]
_COUNT = sa.BigInteger().with_variant(_NUMBER_19, "oracle")
_ID = sa.BigInteger().with_variant(_NUMBER_19, "oracle").with_variant(sa.Integer(), "sqlite")
_md = tables.metadata


def _who() -> list[sa.Column[Any]]:
    return [sa.Column("actor_username", varchar(100)), sa.Column("operator_name", varchar(100))]


def _first_marks() -> list[sa.Column[Any]]:
    """Per grouping kind: whether the row is its grouping's first of the day (``s_``) and
    the grouping's previous day with DMs (``p_``)."""
    return [
        column
        for kind in KINDS
        for column in (
            sa.Column(f"s_{kind}", sa.Integer, nullable=False),
            sa.Column(f"p_{kind}", sa.Date),
        )
    ]


def _first_rows(name: str, *facts: sa.Column[Any]) -> sa.Table:
    """A summary of first rows: per grouping ``kind`` (``KINDS``), day, the grouping's
    previous day with DMs, actor and operator, and ``facts``, the ``leads`` counted."""
    return sa.Table(
        name,
        _md,
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("prev_day", sa.Date),
        *_who(),
        *facts,
        sa.Column("leads", _COUNT, nullable=False),
    )


_DOUBLE_COLUMNS = (
    "target_username",
    "actor_username",
    "operator_name",
    "day",
    "messages",
    "last_at",
)

lead_days = sa.Table(
    "rollup_lead_days",
    _md,
    sa.Column("target_username", varchar(255)),
    *_who(),
    sa.Column("status", varchar(50)),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("hr", sa.Integer, nullable=False),
    sa.Column("wd", sa.Integer, nullable=False),
    sa.Column("messages", _COUNT, nullable=False),
    sa.Column("last_at", sa.TIMESTAMP, nullable=False),
    # The follow-up figures: the row's DMs later than the lead's first contact,
    # and the lead's own facts (the same on each of its rows).
    sa.Column("followups", _COUNT, nullable=False),
    sa.Column("replied", sa.Integer, nullable=False),  # 1: prospects.last_reply_at set
    sa.Column("first_contacted", sa.TIMESTAMP),
    sa.Column("first_reply", sa.TIMESTAMP),  # its first prospect_replies.replied_at
    # 1: no reply and no follow-up date (a candidate of "lost" with its DMs and status)
    sa.Column("is_open", sa.Integer, nullable=False),
    sa.Column("dm_count", sa.Integer),
    sa.Column("last_dm_at", sa.TIMESTAMP),
    *_first_marks(),
)

firsts = _first_rows(
    "rollup_firsts",
    sa.Column("status", varchar(50)),
    sa.Column("replied", sa.Integer, nullable=False),
)

# The follow-up figures: the first rows (as in rollup_firsts) of the leads that replied, with the
# lead's first contact and first reply (the median time to first reply), and of the
# open leads, with their DMs, last DM and status (leads lost to "no reply").
reply_firsts = _first_rows(
    "rollup_reply_firsts",
    sa.Column("first_contacted", sa.TIMESTAMP, nullable=False),
    sa.Column("first_reply", sa.TIMESTAMP, nullable=False),
)

open_firsts = _first_rows(
    "rollup_open_firsts",
    sa.Column("status", varchar(50)),
    sa.Column("dm_count", sa.Integer, nullable=False),
    sa.Column("last_dm_at", sa.TIMESTAMP, nullable=False),
)

# The follow-up figures: the DMs sent from a template, per (lead, template, actor, operator, day),
# with the lead's replied flag and, per grouping of ``KINDS`` (each with the template),
# the same first-row marks as ``rollup_lead_days`` (reply rate by template)...
lead_templates = sa.Table(
    "rollup_lead_templates",
    _md,
    sa.Column("target_username", varchar(255)),
    sa.Column("template_name", varchar(100), nullable=False),
    *_who(),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("replied", sa.Integer, nullable=False),
    *_first_marks(),
)

# ... and those first rows summed, as rollup_firsts sums rollup_lead_days'.
template_firsts = _first_rows(
    "rollup_template_firsts",
    sa.Column("template_name", varchar(100), nullable=False),
    sa.Column("replied", sa.Integer, nullable=False),
)

status_days = sa.Table(
    "rollup_status",
    _md,
    sa.Column("day", sa.Date, nullable=False),
    *_who(),
    sa.Column("status", varchar(50)),
    sa.Column("messages", _COUNT, nullable=False),
    sa.Column("followups", _COUNT, nullable=False),  # the follow-up figures: follow-ups per day
)

hours = sa.Table(
    "rollup_hours",
    _md,
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("hr", sa.Integer, nullable=False),
    sa.Column("wd", sa.Integer, nullable=False),  # the day's weekday, 0 = Monday
    *_who(),
    sa.Column("messages", _COUNT, nullable=False),
)

doubles = sa.Table(
    "rollup_doubles",
    _md,
    sa.Column("target_username", varchar(255), primary_key=True),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
    # All time: the lead's DMs and last DM (the unfiltered all-time list reads these).
    sa.Column("messages", _COUNT, nullable=False),
    sa.Column("last_at", sa.TIMESTAMP, nullable=False),
)

# The detail rows of the leads in rollup_doubles (a period's double contacts are read
# from these alone).
double_rows = sa.Table(
    "rollup_double_rows",
    _md,
    sa.Column("target_username", varchar(255)),
    *_who(),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("messages", _COUNT, nullable=False),
    sa.Column("last_at", sa.TIMESTAMP, nullable=False),
)

dirty = sa.Table(
    "rollup_dirty",
    _md,
    sa.Column("dirty_id", _ID, sa.Identity(oracle_on_null=True), primary_key=True),
    sa.Column("target_username", varchar(255), nullable=False),
)

work = sa.Table("rollup_work", _md, sa.Column("target_username", varchar(255), nullable=False))

state = sa.Table(
    "rollup_state",
    _md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("folds", _COUNT, nullable=False),
    # Rows the summaries had after their last recompute, and delta rows added since.
    sa.Column("base_rows", _COUNT, nullable=False),
    sa.Column("delta_rows", _COUNT, nullable=False),
)

TABLES = (
    lead_days,
    firsts,
    reply_firsts,
    open_firsts,
    status_days,
    hours,
    doubles,
    double_rows,
    lead_templates,
    template_firsts,
    dirty,
    work,
    state,
)
#: What the operator role needs here (cloud/schema/grants.py): an agent showing the Team page
#: folds (the triggers that queue run with the schema owner's rights on PostgreSQL).
OPERATOR_GRANTS = tuple((table.name, "SELECT, INSERT, UPDATE, DELETE") for table in TABLES)
SUMMARIES = (firsts, reply_firsts, open_firsts, template_firsts, status_days, hours)

INDEXES = (
    sa.Index("ix_rollup_lead_days_target", lead_days.c.target_username),
    sa.Index("ix_rollup_lead_days_actor", lead_days.c.actor_username, lead_days.c.day),
    sa.Index("ix_rollup_lead_days_day", lead_days.c.day),
    # The groupings' first rows: by period; all time (prev_day NULL); one actor or
    # operator.
    sa.Index("ix_rollup_firsts", firsts.c.kind, firsts.c.day),
    sa.Index("ix_rollup_firsts_fresh", firsts.c.kind, firsts.c.prev_day),
    sa.Index("ix_rollup_firsts_actor", firsts.c.kind, firsts.c.actor_username, firsts.c.day),
    sa.Index("ix_rollup_firsts_op", firsts.c.kind, firsts.c.operator_name, firsts.c.day),
    sa.Index("ix_rollup_reply_firsts", reply_firsts.c.kind, reply_firsts.c.day),
    sa.Index("ix_rollup_reply_firsts_fresh", reply_firsts.c.kind, reply_firsts.c.prev_day),
    sa.Index("ix_rollup_open_firsts", open_firsts.c.kind, open_firsts.c.dm_count),
    sa.Index(
        "ix_rollup_open_firsts_fresh",
        open_firsts.c.kind,
        open_firsts.c.prev_day,
        open_firsts.c.dm_count,
    ),
    sa.Index("ix_rollup_lead_templates", lead_templates.c.target_username),
    sa.Index("ix_rollup_template_firsts", template_firsts.c.kind, template_firsts.c.day),
    sa.Index("ix_rollup_status_day", status_days.c.day),
    sa.Index("ix_rollup_status_actor", status_days.c.actor_username, status_days.c.day),
    sa.Index("ix_rollup_hours_day", hours.c.day),
    sa.Index("ix_rollup_work", work.c.target_username),
    sa.Index("ix_rollup_double_rows", double_rows.c.target_username),
    sa.Index("ix_rollup_doubles_last", doubles.c.last_at),
)

# -- triggers: queue the leads a write concerns ---------------------------------------

_PG_QUEUE = """CREATE OR REPLACE FUNCTION dmledger_rollup_{name}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    {body};
    RETURN NULL;
END
$$"""

_PG_LOGS_NEW = (
    "INSERT INTO rollup_dirty (target_username) SELECT DISTINCT target_username "
    "FROM dmledger_rl_new WHERE target_username IS NOT NULL"
)
_PG_LOGS_OLD = _PG_LOGS_NEW.replace("dmledger_rl_new", "dmledger_rl_old")
#: The lead columns the rollups read besides the status (the follow-up figures).
LEAD_FACTS = ("last_reply_at", "first_contacted", "follow_up_at", "dm_count", "last_dm_at")
_PG_STATUS = (
    "INSERT INTO rollup_dirty (target_username) SELECT n.target_username "
    "FROM dmledger_rp_new n JOIN dmledger_rp_old o ON o.target_username = n.target_username "
    "WHERE lower(o.status) IS DISTINCT FROM lower(n.status)"
    + "".join(f" OR o.{c} IS DISTINCT FROM n.{c}" for c in LEAD_FACTS)
)
#: The old and new rows' join: PL/pgSQL keeps a static statement's first plan, and a
#: nested loop chosen for a one-row update costs O(N²) on an N-row one (a 10,000-lead
#: push took 26 s in it). A large update plans it afresh (EXECUTE, ~0.2 ms); a small
#: one keeps the cached plan, which no size up to the threshold makes slow.
_PG_STATUS_PLANNED = (
    "IF (SELECT count(*) FROM dmledger_rp_new) > 64 THEN\n"
    "        EXECUTE '" + _PG_STATUS.replace("'", "''") + "';\n"
    "    ELSE\n        " + _PG_STATUS + ";\n    END IF"
)
_PG_REPLIES_NEW = _PG_LOGS_NEW.replace("dmledger_rl_new", "dmledger_rr_new").replace(
    " WHERE target_username IS NOT NULL", ""
)
_PG_REPLIES_OLD = _PG_REPLIES_NEW.replace("dmledger_rr_new", "dmledger_rr_old")
_PG_ERASE = (
    "UPDATE rollup_lead_days d SET target_username = NULL FROM dmledger_rp_old o "
    "WHERE d.target_username = o.target_username;\n"
    "    DELETE FROM rollup_doubles d USING dmledger_rp_old o "
    "WHERE d.target_username = o.target_username;\n"
    "    DELETE FROM rollup_double_rows d USING dmledger_rp_old o "
    "WHERE d.target_username = o.target_username;\n"
    "    UPDATE rollup_lead_templates d SET target_username = NULL FROM dmledger_rp_old o "
    "WHERE d.target_username = o.target_username;\n"
    "    DELETE FROM rollup_dirty d USING dmledger_rp_old o "
    "WHERE d.target_username = o.target_username;\n"
    "    INSERT INTO rollup_dirty (target_username) VALUES ('')"
)
_PG_OWNER = """CREATE OR REPLACE FUNCTION dmledger_rollup_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO rollup_dirty (target_username) SELECT DISTINCT target_username
        FROM outreach_logs WHERE actor_username = NEW.username AND operator_name IS NULL
        AND target_username IS NOT NULL;
    RETURN NULL;
END
$$"""


def _pg_statement_trigger(name: str, table: str, event: str, referencing: str) -> tuple[str, str]:
    return (
        f"DROP TRIGGER IF EXISTS trg_rollup_{name} ON {table}",
        f"CREATE TRIGGER trg_rollup_{name} AFTER {event} ON {table} REFERENCING {referencing} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION dmledger_rollup_{name}()",
    )


_PG_TRIGGERS = (
    _PG_QUEUE.format(name="logs_ins", body=_PG_LOGS_NEW),
    *_pg_statement_trigger("logs_ins", "outreach_logs", "INSERT", "NEW TABLE AS dmledger_rl_new"),
    _PG_QUEUE.format(name="logs_upd", body=_PG_LOGS_NEW + ";\n    " + _PG_LOGS_OLD),
    *_pg_statement_trigger(
        "logs_upd",
        "outreach_logs",
        "UPDATE",
        "NEW TABLE AS dmledger_rl_new OLD TABLE AS dmledger_rl_old",
    ),
    _PG_QUEUE.format(name="logs_del", body=_PG_LOGS_OLD),
    *_pg_statement_trigger("logs_del", "outreach_logs", "DELETE", "OLD TABLE AS dmledger_rl_old"),
    _PG_QUEUE.format(name="status", body=_PG_STATUS_PLANNED),
    *_pg_statement_trigger(
        "status", "prospects", "UPDATE", "NEW TABLE AS dmledger_rp_new OLD TABLE AS dmledger_rp_old"
    ),
    _PG_QUEUE.format(name="replies_ins", body=_PG_REPLIES_NEW),
    *_pg_statement_trigger(
        "replies_ins", "prospect_replies", "INSERT", "NEW TABLE AS dmledger_rr_new"
    ),
    _PG_QUEUE.format(name="replies_upd", body=_PG_REPLIES_NEW + ";\n    " + _PG_REPLIES_OLD),
    *_pg_statement_trigger(
        "replies_upd",
        "prospect_replies",
        "UPDATE",
        "NEW TABLE AS dmledger_rr_new OLD TABLE AS dmledger_rr_old",
    ),
    _PG_QUEUE.format(name="replies_del", body=_PG_REPLIES_OLD),
    *_pg_statement_trigger(
        "replies_del", "prospect_replies", "DELETE", "OLD TABLE AS dmledger_rr_old"
    ),
    _PG_QUEUE.format(name="erase", body=_PG_ERASE),
    *_pg_statement_trigger("erase", "prospects", "DELETE", "OLD TABLE AS dmledger_rp_old"),
    _PG_OWNER,
    "DROP TRIGGER IF EXISTS trg_rollup_owner ON actors",
    "CREATE TRIGGER trg_rollup_owner AFTER UPDATE OF owner_operator ON actors FOR EACH ROW "
    "WHEN (OLD.owner_operator IS DISTINCT FROM NEW.owner_operator) "
    "EXECUTE FUNCTION dmledger_rollup_owner()",
)
_TRIGGER_NAMES = (
    "logs_ins",
    "logs_upd",
    "logs_del",
    "status",
    "replies_ins",
    "replies_upd",
    "replies_del",
    "erase",
    "owner",
)
PG_FUNCTIONS = tuple(f"dmledger_rollup_{name}()" for name in _TRIGGER_NAMES)

_OWNER_QUEUE = (
    "INSERT INTO rollup_dirty (target_username) SELECT DISTINCT target_username "
    "FROM outreach_logs WHERE actor_username = {new}.username AND operator_name IS NULL "
    "AND target_username IS NOT NULL"
)
_ERASE_ROWS = (
    "UPDATE rollup_lead_days SET target_username = NULL "
    "WHERE target_username = {old}.target_username",
    "DELETE FROM rollup_doubles WHERE target_username = {old}.target_username",
    "DELETE FROM rollup_double_rows WHERE target_username = {old}.target_username",
    "UPDATE rollup_lead_templates SET target_username = NULL "
    "WHERE target_username = {old}.target_username",
    "DELETE FROM rollup_dirty WHERE target_username = {old}.target_username",
    "INSERT INTO rollup_dirty (target_username) VALUES ('')",
)

# SQLite: row triggers (one writer at a time; each statement is cheap).
_SQLITE_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS trg_rollup_logs_ins AFTER INSERT ON outreach_logs
FOR EACH ROW WHEN NEW.target_username IS NOT NULL BEGIN
    INSERT INTO rollup_dirty (target_username) VALUES (NEW.target_username);
END""",
    """CREATE TRIGGER IF NOT EXISTS trg_rollup_logs_upd AFTER UPDATE ON outreach_logs
FOR EACH ROW BEGIN
    INSERT INTO rollup_dirty (target_username) SELECT NEW.target_username
        WHERE NEW.target_username IS NOT NULL;
    INSERT INTO rollup_dirty (target_username) SELECT OLD.target_username
        WHERE OLD.target_username IS NOT NULL;
END""",
    """CREATE TRIGGER IF NOT EXISTS trg_rollup_logs_del AFTER DELETE ON outreach_logs
FOR EACH ROW WHEN OLD.target_username IS NOT NULL BEGIN
    INSERT INTO rollup_dirty (target_username) VALUES (OLD.target_username);
END""",
    "CREATE TRIGGER IF NOT EXISTS trg_rollup_status AFTER UPDATE OF status, "
    + ", ".join(LEAD_FACTS)
    + " ON prospects\nFOR EACH ROW WHEN lower(OLD.status) IS NOT lower(NEW.status)"
    + "".join(f" OR OLD.{c} IS NOT NEW.{c}" for c in LEAD_FACTS)
    + """ BEGIN
    INSERT INTO rollup_dirty (target_username) VALUES (NEW.target_username);
END""",
    """CREATE TRIGGER IF NOT EXISTS trg_rollup_replies_ins AFTER INSERT ON prospect_replies
FOR EACH ROW BEGIN
    INSERT INTO rollup_dirty (target_username) VALUES (NEW.target_username);
END""",
    """CREATE TRIGGER IF NOT EXISTS trg_rollup_replies_upd AFTER UPDATE ON prospect_replies
FOR EACH ROW BEGIN
    INSERT INTO rollup_dirty (target_username) VALUES (NEW.target_username);
    INSERT INTO rollup_dirty (target_username) VALUES (OLD.target_username);
END""",
    """CREATE TRIGGER IF NOT EXISTS trg_rollup_replies_del AFTER DELETE ON prospect_replies
FOR EACH ROW BEGIN
    INSERT INTO rollup_dirty (target_username) VALUES (OLD.target_username);
END""",
    "CREATE TRIGGER IF NOT EXISTS trg_rollup_erase AFTER DELETE ON prospects\n"
    "FOR EACH ROW BEGIN\n" + "".join(f"    {s.format(old='OLD')};\n" for s in _ERASE_ROWS) + "END",
    "CREATE TRIGGER IF NOT EXISTS trg_rollup_owner AFTER UPDATE OF owner_operator ON actors\n"
    "FOR EACH ROW WHEN OLD.owner_operator IS NOT NEW.owner_operator BEGIN\n"
    f"    {_OWNER_QUEUE.format(new='NEW')};\nEND",
)


def _oracle_changed(column: str) -> str:
    old, new = (
        (f"LOWER(OLD.{column})", f"LOWER(NEW.{column})")
        if column == "status"
        else (
            f"OLD.{column}",
            f"NEW.{column}",
        )
    )
    return (
        f"{old} <> {new} OR (OLD.{column} IS NULL AND NEW.{column} IS NOT NULL) "
        f"OR (OLD.{column} IS NOT NULL AND NEW.{column} IS NULL)"
    )


# Oracle: row triggers that write other tables only (no mutating-table reads), except
# the owner trigger, which reads outreach_logs from a trigger on actors.
_ORACLE_TRIGGERS = (
    """CREATE OR REPLACE TRIGGER trg_rollup_logs
AFTER INSERT OR UPDATE OR DELETE ON outreach_logs
FOR EACH ROW
BEGIN
    IF :NEW.target_username IS NOT NULL THEN
        INSERT INTO rollup_dirty (target_username) VALUES (:NEW.target_username);
    END IF;
    IF :OLD.target_username IS NOT NULL THEN
        INSERT INTO rollup_dirty (target_username) VALUES (:OLD.target_username);
    END IF;
END;""",
    "CREATE OR REPLACE TRIGGER trg_rollup_status\nAFTER UPDATE OF status, "
    + ", ".join(LEAD_FACTS)
    + " ON prospects\nFOR EACH ROW\nWHEN ("
    + "\n      OR ".join(_oracle_changed(c) for c in ("status", *LEAD_FACTS))
    + """)
BEGIN
    INSERT INTO rollup_dirty (target_username) VALUES (:NEW.target_username);
END;""",
    """CREATE OR REPLACE TRIGGER trg_rollup_replies
AFTER INSERT OR UPDATE OR DELETE ON prospect_replies
FOR EACH ROW
BEGIN
    IF :NEW.target_username IS NOT NULL THEN
        INSERT INTO rollup_dirty (target_username) VALUES (:NEW.target_username);
    END IF;
    IF :OLD.target_username IS NOT NULL THEN
        INSERT INTO rollup_dirty (target_username) VALUES (:OLD.target_username);
    END IF;
END;""",
    "CREATE OR REPLACE TRIGGER trg_rollup_erase\nAFTER DELETE ON prospects\nFOR EACH ROW\n"
    "BEGIN\n" + "".join(f"    {s.format(old=':OLD')};\n" for s in _ERASE_ROWS) + "END;",
    "CREATE OR REPLACE TRIGGER trg_rollup_owner\nAFTER UPDATE OF owner_operator ON actors\n"
    "FOR EACH ROW\nBEGIN\n"
    f"    {_OWNER_QUEUE.format(new=':NEW')};\nEND;",
)


def trigger_statements(dialect_name: str) -> tuple[str, ...]:
    """The rollups' trigger DDL for one dialect, one statement per item."""
    return {
        "postgresql": _PG_TRIGGERS,
        "sqlite": _SQLITE_TRIGGERS,
        "oracle": _ORACLE_TRIGGERS,
    }[dialect_name]


def create_statements(dialect: sa.Dialect) -> Iterator[str]:
    """Every statement that creates the rollups (tables, indexes, triggers, state row)."""
    for table in TABLES:
        yield str(CreateTable(table).compile(dialect=dialect)).strip()
    for index in INDEXES:
        yield str(CreateIndex(index).compile(dialect=dialect)).strip()
    yield from trigger_statements(dialect.name)
    yield ("INSERT INTO rollup_state (id, folds, base_rows, delta_rows) VALUES (1, 0, 0, 0)")


def drop(conn: sa.Connection) -> None:
    """Drop the rollups and their triggers (``cloud reset``)."""
    if conn.dialect.name == "sqlite":
        for name in _TRIGGER_NAMES:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS trg_rollup_{name}")
    for table in reversed(TABLES):
        table.drop(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        for function in PG_FUNCTIONS:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function} CASCADE")


def refresh(conn: sa.Connection) -> list[str]:
    """Bring a current schema's rollups to this release's code: the indexes it lacks
    are created, and (PostgreSQL) the trigger functions whose code is not this
    release's are re-created (``CREATE OR REPLACE``: the triggers keep calling them).
    ``cloud upgrade`` runs it on a current schema, so a faster plan reaches existing
    clouds without a schema version. Returns what it did."""
    replaced: list[str] = []
    inspector = sa.inspect(conn)
    known = {
        str(ix["name"]).lower() for table in TABLES for ix in inspector.get_indexes(table.name)
    }
    for index in INDEXES:
        if str(index.name).lower() not in known:
            index.create(conn)
            replaced.append(f"CREATE INDEX {index.name}")
    if conn.dialect.name != "postgresql":
        return replaced
    for statement in _PG_TRIGGERS:
        if not statement.startswith("CREATE OR REPLACE FUNCTION"):
            continue
        name = statement.split()[4].split("(")[0]
        body = statement.split("$$")[1]
        found = conn.execute(
            sa.text("SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(:f)"),
            {"f": f"{name}()"},
        ).scalar()
        if found != body:
            conn.exec_driver_sql(statement)
            replaced.append(f"CREATE OR REPLACE FUNCTION {name}()")
    return replaced


__all__ = [
    "INDEXES",
    "KINDS",
    "OPERATOR_GRANTS",
    "ROLLUP_VERSION",
    "TABLES",
    "create_statements",
    "drop",
    "refresh",
    "trigger_statements",
]
