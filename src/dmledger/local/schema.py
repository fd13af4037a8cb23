"""Tables of ``local_data.db``: the seed's three, plus what sync needs.

The seed's tables keep their names and columns (``prospects``, ``outreach_logs``
with ``synced_to_cloud``, ``meta``). Times are ISO 8601 text in UTC, fixed width, so
text order is time order.
"""

from __future__ import annotations

import sqlalchemy as sa

# 2: outbox.after_log/base_notes, notes_replaced, notices; 3: follow-ups; 4: team_outbox
LOCAL_SCHEMA_VERSION = 4

metadata = sa.MetaData()

prospects = sa.Table(
    "prospects",
    metadata,
    sa.Column("target_username", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False, server_default="new"),
    sa.Column("owner_actor", sa.Text),
    sa.Column("notes", sa.Text),
    sa.Column("last_updated", sa.Text),
    # Beyond the seed: needed by the status card and by sync.
    sa.Column("first_contacted", sa.Text),
    sa.Column("owner_operator", sa.Text),
    sa.Column("row_version", sa.Integer),  # the cloud version this row reflects
    sa.Column("seen_gen", sa.Integer, nullable=False, server_default="0"),  # full-resync mark
    sa.Column("notes_replaced", sa.Text),  # the cloud's flag: a teammate's replace won
    # Follow-ups (version 3): the cloud's figures, and when the lead is due (computed
    # here by domain.followups.due_at from them and the team's rule, kept for the index).
    sa.Column("last_dm_at", sa.Text),
    sa.Column("dm_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_reply_at", sa.Text),
    sa.Column("follow_up_at", sa.Text),
    sa.Column("due_at", sa.Text),
    sa.Column("last_message", sa.Text),
    sqlite_with_rowid=True,
)

outreach_logs = sa.Table(
    "outreach_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("target_username", sa.Text, nullable=False),
    sa.Column("actor_username", sa.Text, nullable=False),
    sa.Column("operator_name", sa.Text, nullable=False),
    sa.Column("message_snippet", sa.Text, nullable=False),  # the whole message, kept locally
    sa.Column("timestamp", sa.Text, nullable=False),
    sa.Column("synced_to_cloud", sa.Integer, nullable=False, server_default="0"),
    sa.Column("client_log_id", sa.Text, nullable=False, unique=True),
    sa.Column("error", sa.Text),  # set when the cloud refused it: set aside
    sa.Column("failed_at", sa.Text),
    # 1: stamped by this machine's raw clock before any offset to the cloud's was known;
    # the first sync corrects it.
    sa.Column("raw_clock", sa.Integer),
    sa.Column("template_name", sa.Text),  # the template the message came from
    sqlite_autoincrement=True,  # ids name set-aside rows: never reuse one
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    # add | status | notes | append | delete | reply | follow_up
    sa.Column("op", sa.Text, nullable=False),
    sa.Column("target_username", sa.Text, nullable=False),
    sa.Column("status", sa.Text),
    sa.Column("notes", sa.Text),
    # The journal: the highest outreach_logs.id when queued (NULL: before every DM).
    sa.Column("after_log", sa.Integer),
    sa.Column("base_notes", sa.Text),  # what the writer saw before replacing the notes
    sa.Column("ref", sa.Text),  # a reply's client-made id; a follow_up's date (ISO)
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("failed_at", sa.Text),
    sqlite_autoincrement=True,
)

actors = sa.Table(
    "actors",
    metadata,
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("owner_operator", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
)

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("operator_name", sa.Text, primary_key=True),
)

# Edits the cloud dropped (the lead was deleted by a teammate), shown on the card.
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("target_username", sa.Text, nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
)

# Columns added after version 1: a cache made by an older agent gets them on open.
ADDED_COLUMNS = (
    (prospects, prospects.c.notes_replaced),
    (outbox, outbox.c.after_log),
    (outbox, outbox.c.base_notes),
    (outreach_logs, outreach_logs.c.raw_clock),
    *(
        ADDED_COLUMNS_V3 := (
            (prospects, prospects.c.last_dm_at),
            (prospects, prospects.c.dm_count),
            (prospects, prospects.c.last_reply_at),
            (prospects, prospects.c.follow_up_at),
            (prospects, prospects.c.due_at),
            (prospects, prospects.c.last_message),
            (outreach_logs, outreach_logs.c.template_name),
            (outbox, outbox.c.ref),
        )
    ),
)

# The team's templates, as last read from the cloud.
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

# Changes to the team's templates and rule made here, waiting for the next sync
# (local/team_edits.py); the templates table and the rule already show them.
team_outbox = sa.Table(
    "team_outbox",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("op", sa.Text, nullable=False),  # template | template_delete | rule
    sa.Column("name", sa.Text, nullable=False),  # the template's name, or the rule's key
    sa.Column("text", sa.Text),  # the template's text, or the rule's value
    sa.Column("operator", sa.Text),  # who made it
    sa.Column("created_at", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)

team_cache = sa.Table(
    "team_cache",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.Text, nullable=False),
)

INDEXES = (
    # The Leads list reads each filter's rows in handle order from an index, and stops
    # at the page's end: by status (its first-contact dates in the index, so a date
    # range is checked without reading the rows it skips), by owner, by owner and status.
    sa.Index(
        "ix_prospects_status_first",
        prospects.c.status,
        prospects.c.target_username,
        prospects.c.first_contacted,
    ),
    sa.Index("ix_prospects_owner", prospects.c.owner_actor, prospects.c.target_username),
    sa.Index(
        "ix_prospects_owner_status",
        prospects.c.owner_actor,
        prospects.c.status,
        prospects.c.target_username,
    ),
    # The exact search (under 3 characters, or while the trigram index is rebuilt)
    # walks handles and notes in handle order without reading the rows.
    sa.Index("ix_prospects_handle_notes", prospects.c.target_username, prospects.c.notes),
    sa.Index("ix_prospects_operator", prospects.c.owner_operator, prospects.c.target_username),
    sa.Index("ix_prospects_first", prospects.c.first_contacted),
    sa.Index("ix_prospects_seen_gen", prospects.c.seen_gen),
    sa.Index("ix_logs_pending", outreach_logs.c.synced_to_cloud, outreach_logs.c.id),
    sa.Index("ix_logs_target", outreach_logs.c.target_username, outreach_logs.c.timestamp),
    sa.Index("ix_outbox_target", outbox.c.target_username),
    # The Today list reads due leads in due order without a scan, for the whole team
    # or for one actor or operator.
    sa.Index("ix_prospects_due", prospects.c.due_at, sqlite_where=prospects.c.due_at.is_not(None)),
    sa.Index(
        "ix_prospects_owner_due",
        prospects.c.owner_actor,
        prospects.c.due_at,
        sqlite_where=prospects.c.due_at.is_not(None),
    ),
    sa.Index(
        "ix_prospects_operator_due",
        prospects.c.owner_operator,
        prospects.c.due_at,
        sqlite_where=prospects.c.due_at.is_not(None),
    ),
)

# A full resync drops these and builds them once after the rows (see FTS below).
PROSPECT_INDEXES = tuple(i for i in INDEXES if i.table is prospects)
# Indexes an older cache has that INDEXES replaced: dropped on open.
OBSOLETE_INDEXES = ("ix_prospects_status",)

# Substring search over handles and notes at a million leads needs an index:
# an FTS5 trigram table kept in step by triggers (external content, so no copy).
# A full resync drops the triggers and rebuilds the index once at its end (the meta
# key below is set meanwhile, and search falls back to an exact scan).
FTS_TRIGGERS = ("prospects_fts_ins", "prospects_fts_del", "prospects_fts_upd")
FTS_STATEMENTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS prospects_fts USING fts5("
    "target_username, notes, content='prospects', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS prospects_fts_ins AFTER INSERT ON prospects BEGIN "
    "INSERT INTO prospects_fts(rowid, target_username, notes) "
    "VALUES (new.rowid, new.target_username, new.notes); END",
    "CREATE TRIGGER IF NOT EXISTS prospects_fts_del AFTER DELETE ON prospects BEGIN "
    "INSERT INTO prospects_fts(prospects_fts, rowid, target_username, notes) "
    "VALUES ('delete', old.rowid, old.target_username, old.notes); END",
    "CREATE TRIGGER IF NOT EXISTS prospects_fts_upd AFTER UPDATE OF target_username, notes "
    "ON prospects BEGIN "
    "INSERT INTO prospects_fts(prospects_fts, rowid, target_username, notes) "
    "VALUES ('delete', old.rowid, old.target_username, old.notes); "
    "INSERT INTO prospects_fts(rowid, target_username, notes) "
    "VALUES (new.rowid, new.target_username, new.notes); END",
)
