"""Appending a dated line to a lead's notes: an operation that merges.

One rule for the cloud (where appends from every home meet) and the cache (where
queued appends are re-applied after a pull): an entry starts with a line stamped
``[YYYY-MM-DD HH:MM:SS operator]`` and runs to the next stamped line. Merging an entry
puts it among the others in the order of their stamps, once: an entry already there
is not added again, so pushing the same append twice changes nothing, and appends
merged in any order give the same notes.
"""

from __future__ import annotations

import re
from datetime import datetime

_STAMP = re.compile(r"^\[(\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?) [^\]\n]*\] ")


def note_line(at: datetime, operator: str, text: str) -> str:
    """The entry an append adds: ``[2026-03-02 14:30:05 Ann] called back`` (UTC)."""
    return f"[{at:%Y-%m-%d %H:%M:%S} {operator}] {text}"


def merge_note(notes: str | None, entry: str) -> str:
    """``notes`` with ``entry`` merged in by its stamp (unchanged if already there)."""
    if not notes:
        return entry
    head, entries = _split(notes)
    if entry in entries:
        return notes
    key = _key(entry)
    position = len(entries)
    while position > 0 and _key(entries[position - 1]) > key:
        position -= 1
    entries.insert(position, entry)
    return "\n".join([*head, *entries])


def _split(notes: str) -> tuple[list[str], list[str]]:
    """Lines before the first stamped one, then the stamped entries (multi-line kept)."""
    head: list[str] = []
    entries: list[str] = []
    for line in notes.split("\n"):
        if _STAMP.match(line):
            entries.append(line)
        elif entries:
            entries[-1] += "\n" + line
        else:
            head.append(line)
    return head, entries


def _key(entry: str) -> tuple[str, str]:
    found = _STAMP.match(entry)
    return ("" if found is None else found.group(1), entry)
