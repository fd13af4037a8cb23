"""Every key of the local store's ``meta`` table, named once.

The sync engine, the local store, the follow-up cache and ``Ledger`` read and write
these; a key spelled anywhere else is a bug (``tests/test_layering.py`` checks that no
module outside this one passes a string literal to ``get_meta``/``set_meta``/
``delete_meta``).
"""

from __future__ import annotations

# The version of this file's tables (local/schema.py's LOCAL_SCHEMA_VERSION).
LOCAL_SCHEMA_VERSION = "local_schema_version"
# The pull cursor: the last (row_version, handle) read from the cloud.
PULL_VERSION = "pull_version"
PULL_HANDLE = "pull_handle"
# The cursor version the last pull began at (to notice a cloud that went back in time).
PULL_STARTED = "pull_started_version"
# A full resync: its generation, and whether one is under way.
RESYNC_GEN = "resync_gen"
RESYNC_GEN_ACTIVE = "resync_gen_active"
# Set when the cache must be read again from the cloud at the next sync.
FORCE_RESYNC = "force_resync"
# Cloud clock minus local clock at the last sync, in seconds.
CLOCK_OFFSET = "clock_offset_seconds"
# The identity of the cloud this cache copies.
CLOUD_ID = "cloud_id"
# What ``dmledger status`` shows about the last sync.
LAST_SYNC_AT = "last_sync_at"
LAST_ATTEMPT_AT = "last_attempt_at"
LAST_ERROR = "last_error"
# The version of the team's rules and templates kept here, and the follow-up rule.
TEAM_VERSION = "team_version"
RULE_DAYS = "rule_follow_up_after_days"
RULE_MAX = "rule_max_followups"
# Set while the FTS5 search index is being built.
SEARCH_INDEX_BUILDING = "search_index_building"
# While it is built: the rowid of ``prospects`` through which it is built (its
# triggers keep those rows; the build reads the rest in bounded transactions).
SEARCH_INDEX_THROUGH = "search_index_through"

# The highest outbox / team_outbox seq the cloud has taken (their rows are deleted
# then): `dmledger repair` never queues again an edit from a backup at or below it.
EDITS_PUSHED_THROUGH = "edits_pushed_through"
TEAM_EDITS_PUSHED_THROUGH = "team_edits_pushed_through"

#: What a cache forgets when its cloud is reset: the cursor, a resync under way and
#: the cloud's identity (the next sync then reads everything again).
CLOUD_CURSOR_KEYS = (PULL_VERSION, PULL_HANDLE, RESYNC_GEN_ACTIVE, CLOUD_ID)
