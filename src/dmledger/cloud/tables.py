"""The cloud schema as SQLAlchemy Core metadata, and the DDL that SQLAlchemy cannot express.

The seed's four tables keep their names, types, sizes, keys and defaults, so a
database made with the seed's Initialization SQL keeps working (table and column
names are lower-case here, which every dialect renders unquoted: ``PROSPECTS`` on
Oracle). What correctness needs is added as nullable columns or new objects:

- ``outreach_logs.client_log_id`` (unique): a repeated push inserts nothing;
- ``outreach_logs.operator_name`` (FK to operators): who sent it;
- ``prospects.row_version``: the pull cursor, stamped by a trigger. On PostgreSQL it
  is the writing transaction's id plus a base (``sync_clock.version``), and a pull
  reads only below the oldest transaction still running, so nothing is missed and
  writers never wait on each other. On SQLite (one writer) and Oracle a trigger takes
  the next value of the single ``sync_clock`` row: writers queue on it, so version
  order is commit order. No client clock is involved;
- ``prospect_tombstones``: a deletion, versioned the same way, so it reaches caches;
- ``last_updated`` set by the same trigger from the database clock, in UTC;
- ``dmledger_info``: the schema version, whether the data is demo data, and the cloud
  identity (``cloud_id``: random, made at ``cloud init``, new after ``cloud reset``, kept
  by ``cloud upgrade``), so a cache can tell it is talking to another database;
- ``prospects.notes_replaced``: the notes a teammate's replace overwrote without having
  seen them (last writer wins, the loser is shown rather than lost);
- indexes for the pull and for the team dashboards;
- version 5 (follow-ups): ``prospect_replies`` (one row per recorded reply, keyed by
  its client-made id, so a repeated push inserts nothing), ``message_templates`` and
  ``team_rules`` (team-wide, read by every home when ``dmledger_info.team_version``
  changes), ``outreach_logs.template_name``, and on prospects ``last_dm_at``,
  ``dm_count``, ``last_message``, ``last_reply_at`` (kept by the push from the logs and
  replies) and
  ``follow_up_at`` (a follow-up date set by hand).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import oracle

# 1 seed; 2 everything above; 3 cloud_id, notes_replaced; 4 PG xid cursor; 5 follow-ups;
# 6 the Team rollups (cloud/analytics/rollups.py)
SCHEMA_VERSION = 6


def varchar(length: int) -> sa.types.TypeEngine[str]:
    """The seed's VARCHAR2(length) on Oracle, VARCHAR(length) elsewhere."""
    return sa.String(length).with_variant(_OracleVarchar2(length), "oracle")


class _OracleVarchar2(sa.types.UserDefinedType[str]):
    cache_ok = True

    def __init__(self, length: int) -> None:
        self.length = length

    def get_col_spec(self, **kw: object) -> str:
        return f"VARCHAR2({self.length})"


#: LOG_ID is the seed's NUMBER identity; SQLite needs INTEGER for its rowid alias.
_ORACLE_NUMBER = oracle.NUMBER()  # type: ignore[no-untyped-call]
_ORACLE_NUMBER_19 = oracle.NUMBER(19)  # type: ignore[no-untyped-call]
_LOG_ID = (
    sa.BigInteger().with_variant(_ORACLE_NUMBER, "oracle").with_variant(sa.Integer(), "sqlite")
)
_VERSION = sa.BigInteger().with_variant(_ORACLE_NUMBER_19, "oracle")
_NOW = sa.text("CURRENT_TIMESTAMP")

metadata = sa.MetaData()

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("operator_name", varchar(100), primary_key=True),
    sa.Column("created_at", sa.TIMESTAMP, server_default=_NOW),
)

actors = sa.Table(
    "actors",
    metadata,
    sa.Column("username", varchar(100), primary_key=True),
    sa.Column("owner_operator", varchar(100)),
    sa.Column("status", varchar(50), server_default=sa.text("'active'")),
    sa.Column("created_at", sa.TIMESTAMP, server_default=_NOW),
    sa.ForeignKeyConstraint(
        ["owner_operator"], ["operators.operator_name"], name="fk_actor_operator"
    ),
)

prospects = sa.Table(
    "prospects",
    metadata,
    sa.Column("target_username", varchar(255), primary_key=True),
    sa.Column("status", varchar(50), server_default=sa.text("'new'")),
    sa.Column("owner_actor", varchar(100)),
    sa.Column("notes", varchar(4000)),
    sa.Column("first_contacted", sa.TIMESTAMP),
    sa.Column("last_updated", sa.TIMESTAMP, server_default=_NOW),
    sa.Column("row_version", _VERSION),
    sa.Column("notes_replaced", varchar(4000)),
    sa.Column("last_dm_at", sa.TIMESTAMP),
    sa.Column("dm_count", sa.Integer),
    sa.Column("last_reply_at", sa.TIMESTAMP),
    sa.Column("follow_up_at", sa.TIMESTAMP),
    sa.Column("last_message", varchar(4000)),
    sa.ForeignKeyConstraint(["owner_actor"], ["actors.username"], name="fk_prospect_owner"),
)

outreach_logs = sa.Table(
    "outreach_logs",
    metadata,
    sa.Column("log_id", _LOG_ID, sa.Identity(oracle_on_null=True), primary_key=True),
    sa.Column("target_username", varchar(255)),
    sa.Column("actor_username", varchar(100)),
    sa.Column("message_text", varchar(4000)),
    sa.Column("created_at", sa.TIMESTAMP, server_default=_NOW),
    sa.Column("client_log_id", varchar(36)),
    sa.Column("operator_name", varchar(100)),
    sa.Column("template_name", varchar(100)),
    sa.ForeignKeyConstraint(
        ["target_username"], ["prospects.target_username"], name="fk_log_target"
    ),
    sa.ForeignKeyConstraint(["actor_username"], ["actors.username"], name="fk_log_actor"),
    sa.ForeignKeyConstraint(["operator_name"], ["operators.operator_name"], name="fk_log_operator"),
)

prospect_tombstones = sa.Table(
    "prospect_tombstones",
    metadata,
    sa.Column("target_username", varchar(255), primary_key=True),
    sa.Column("row_version", _VERSION, nullable=False),
    sa.Column("deleted_at", sa.TIMESTAMP, server_default=_NOW),
)

sync_clock = sa.Table(
    "sync_clock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    # SQLite and Oracle: the last version handed out. PostgreSQL: the cursor base added
    # to transaction ids (see ddl.pg_stamp_function).
    sa.Column("version", _VERSION, nullable=False),
    # Tombstones up to this version were purged: a cache behind it must resync fully.
    sa.Column("purged_through", _VERSION, nullable=False),
)

dmledger_info = sa.Table(
    "dmledger_info",
    metadata,
    sa.Column("info_key", varchar(100), primary_key=True),
    sa.Column("info_value", varchar(4000)),
)

# A reply a setter recorded: when the lead answered, never what they wrote.
prospect_replies = sa.Table(
    "prospect_replies",
    metadata,
    sa.Column("client_reply_id", varchar(36), primary_key=True),
    sa.Column("target_username", varchar(255), nullable=False),
    sa.Column("replied_at", sa.TIMESTAMP, nullable=False),
    sa.ForeignKeyConstraint(
        ["target_username"], ["prospects.target_username"], name="fk_reply_target"
    ),
)

message_templates = sa.Table(
    "message_templates",
    metadata,
    sa.Column("template_name", varchar(100), primary_key=True),
    sa.Column("template_text", varchar(4000), nullable=False),
    sa.Column("operator_name", varchar(100)),
    sa.Column("updated_at", sa.TIMESTAMP, server_default=_NOW),
)

team_rules = sa.Table(
    "team_rules",
    metadata,
    sa.Column("rule_key", varchar(100), primary_key=True),
    sa.Column("rule_value", varchar(400), nullable=False),
)

# The seed's tables, in creation order; the additions follow.
SEED_TABLES = (operators, actors, prospects, outreach_logs)
ADDED_TABLES_V5 = (prospect_replies, message_templates, team_rules)
ADDED_TABLES = (prospect_tombstones, sync_clock, dmledger_info, *ADDED_TABLES_V5)

# Indexes are objects of their own so `cloud upgrade` can add them to a seed database.
INDEXES = (
    sa.Index("ux_logs_client_log_id", outreach_logs.c.client_log_id, unique=True),
    sa.Index("ix_prospects_version", prospects.c.row_version, prospects.c.target_username),
    sa.Index("ix_tombstones_version", prospect_tombstones.c.row_version),
    sa.Index("ix_logs_created", outreach_logs.c.created_at),
    sa.Index("ix_logs_actor_created", outreach_logs.c.actor_username, outreach_logs.c.created_at),
    sa.Index("ix_logs_operator_created", outreach_logs.c.operator_name, outreach_logs.c.created_at),
    sa.Index("ix_logs_target", outreach_logs.c.target_username, outreach_logs.c.actor_username),
    sa.Index("ix_prospects_owner", prospects.c.owner_actor),
    sa.Index("ix_replies_target", prospect_replies.c.target_username),
    sa.Index("ix_logs_template", outreach_logs.c.template_name),
)
INDEXES_V5 = INDEXES[-2:]

# Columns `cloud upgrade` adds to a seed database (all nullable).
ADDED_COLUMNS = (
    (outreach_logs, outreach_logs.c.client_log_id),
    (outreach_logs, outreach_logs.c.operator_name),
    (prospects, prospects.c.row_version),
    (prospects, prospects.c.notes_replaced),
    *(
        ADDED_COLUMNS_V5 := (
            (outreach_logs, outreach_logs.c.template_name),
            (prospects, prospects.c.last_dm_at),
            (prospects, prospects.c.dm_count),
            (prospects, prospects.c.last_reply_at),
            (prospects, prospects.c.follow_up_at),
            (prospects, prospects.c.last_message),
        )
    ),
)
# Columns version 3 added to version 2.
ADDED_COLUMNS_V3 = ((prospects, prospects.c.notes_replaced),)
