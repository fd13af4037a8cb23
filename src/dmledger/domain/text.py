"""Column sizes and the byte-safe cut for the cloud copy of over-long text.

The seed's Oracle columns are VARCHAR2 sized in bytes (NOTES and MESSAGE_TEXT 4000,
TARGET_USERNAME 255, names 100). Locally we keep text whole; the cloud copy of an
over-long value is cut on a character boundary and ends with a visible marker, so it
never blocks the queue and nobody mistakes it for the whole text.
"""

from __future__ import annotations

from dmledger.errors import InvalidInput

MESSAGE_MAX_BYTES = 4000
NOTES_MAX_BYTES = 4000
TARGET_USERNAME_MAX = 255
NAME_MAX = 100
STATUS_MAX = 50
TRUNCATION_MARKER = " […]"


def fit_bytes(text: str | None, max_bytes: int, marker: str = TRUNCATION_MARKER) -> str | None:
    """Return ``text`` if its UTF-8 form fits ``max_bytes``, else a cut copy ending in ``marker``.

    The cut never splits a character (4-byte emoji included) and the result, marker
    included, is at most ``max_bytes`` bytes.
    """
    if text is None:
        return None
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(marker.encode("utf-8"))
    if room < 0:
        raise ValueError(f"marker does not fit in {max_bytes} bytes")
    # errors="ignore" drops the partial character left at the cut.
    head = encoded[:room].decode("utf-8", errors="ignore")
    return head + marker


def validate_name(raw: str, what: str = "name") -> str:
    """Operator names: trimmed, 1-100 bytes, printable."""
    name = raw.strip()
    if not name:
        raise InvalidInput(f"{what} {raw!r} is empty: it needs 1-{NAME_MAX} characters")
    if len(name.encode("utf-8")) > NAME_MAX:
        raise InvalidInput(f"{what} {raw!r} is longer than {NAME_MAX} bytes")
    if not name.isprintable():
        raise InvalidInput(f"{what} {raw!r} contains control characters")
    return name
