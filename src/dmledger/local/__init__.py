"""The local SQLite store: cache of prospects, offline queue of DMs, outbox of edits."""
