"""The sync engine: push queued DMs and edits, pull the cloud's changes, in a loop."""
