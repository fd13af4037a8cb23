"""Column sizes and the byte-safe cut for the cloud copy of over-long text.

The seed's Oracle columns are VARCHAR2 sized in bytes (NOTES and MESSAGE_TEXT 4000,
TARGET_USERNAME 255, names 100). Locally we keep text whole; the cloud copy of an
over-long value is cut on a character boundary and ends with a visible marker, so it
never blocks the queue and nobody mistakes it for the whole text.
"""

from __future__ import annotations

import unicodedata

from dmledger.errors import InvalidInput

MESSAGE_MAX_BYTES = 4000
NOTES_MAX_BYTES = 4000
TARGET_USERNAME_MAX = 255
NAME_MAX = 100
STATUS_MAX = 50
# Kept whole locally; the cloud copy is cut to the byte sizes above.
MESSAGE_MAX_CHARS = 20_000
NOTES_MAX_CHARS = 20_000
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


def is_control(char: str) -> bool:
    """True for a character that moves the cursor, rewrites the terminal or is invisible:
    C0/C1 controls (ESC, NUL, DEL …), format characters (bidi overrides, zero-width),
    line and paragraph separators and lone surrogates."""
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def has_control(text: str) -> bool:
    return any(is_control(c) for c in text)


def escape_controls(text: str, *, keep: str = "\n") -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\u202e``),
    so it can be printed on a terminal without rewriting it. Characters in ``keep``
    (a newline by default) are left as they are."""
    if not has_control(text):
        return text
    return "".join(c if not is_control(c) or c in keep else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def validate_name(raw: str, what: str = "name") -> str:
    """Operator names: trimmed of spaces, 1-100 bytes, no control characters (checked
    before trimming, so a control character at either end is refused, not dropped)."""
    if has_control(raw):
        raise InvalidInput(
            f"{what} {raw!r} contains control characters: "
            "names may hold only visible characters and spaces"
        )
    name = raw.strip()
    if not name:
        raise InvalidInput(f"{what} {raw!r} is empty: it needs 1-{NAME_MAX} characters")
    if len(name.encode("utf-8")) > NAME_MAX:
        raise InvalidInput(f"{what} {raw!r} is longer than {NAME_MAX} bytes")
    if not name.isprintable():
        raise InvalidInput(f"{what} {raw!r} contains characters that cannot be shown")
    return name


def validate_search(raw: str | None) -> str | None:
    """A search term (handle or notes substring); control characters (NUL included)
    are refused. None or blank means no search."""
    if raw is None or not raw.strip():
        return None
    if has_control(raw):
        raise InvalidInput(
            f"search {raw[:60]!r} contains control characters: search for visible text only"
        )
    return raw.strip()


def clean_text(text: str | None, what: str, limit: int) -> str | None:
    """Free text (a message, notes): CRLF as LF, trimmed, at most ``limit`` characters.

    Raises InvalidInput naming ``what`` for text over the limit or holding a NUL.
    """
    if text is None:
        return None
    cleaned = text.replace("\r\n", "\n").strip()
    if len(cleaned) > limit:
        raise InvalidInput(f"{what} is {len(cleaned)} characters long: the limit is {limit}")
    if "\x00" in cleaned:
        raise InvalidInput(f"{what} contains a NUL character")
    return cleaned
