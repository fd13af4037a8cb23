"""Instagram handles: what people paste, and the one form we store.

People paste ``@Name``, ``name``, ``https://www.instagram.com/name/?igsh=…`` or
``instagram.com/name``. We store lower-case without ``@``. A value that is not a
handle is refused with the rule it broke; it is never "repaired" into a different
valid handle, because messaging the wrong person is worse than an error.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from dmledger.errors import InvalidInput

HANDLE_MAX = 30
_HANDLE_CHARS = re.compile(r"[a-z0-9._]+")
_INSTAGRAM_HOSTS = frozenset({"instagram.com", "www.instagram.com", "m.instagram.com"})
# Paths under instagram.com that are pages, not profiles.
_RESERVED_PATHS = frozenset(
    {"p", "reel", "reels", "stories", "explore", "accounts", "direct", "tv", "about", "legal"}
)
HANDLE_RULE = (
    "a handle is 1-30 characters of a-z, 0-9, '.' and '_', "
    "not starting or ending with '.', without '..'"
)


def normalize_handle(raw: str) -> str:
    """Return the stored form of a handle, profile URL or ``@name``.

    Raises InvalidInput naming the value and the rule when it is not a handle.
    """
    text = raw.strip()
    if not text:
        raise InvalidInput(f"handle {raw!r} is empty: {HANDLE_RULE}")
    candidate = _from_url(text, raw) if _looks_like_url(text) else text
    if candidate.startswith("@"):
        candidate = candidate[1:]
    # Only ASCII letters change case: str.lower() turns KELVIN SIGN into "k", which
    # would silently make a different, valid handle out of something that is not one.
    handle = "".join(c.lower() if c.isascii() else c for c in candidate)
    _check(handle, raw)
    return handle


def validate_actor_username(raw: str) -> str:
    """Actors are Instagram accounts too: same rules, same stored form."""
    return normalize_handle(raw)


def _looks_like_url(text: str) -> bool:
    lowered = text.lower()
    return "://" in lowered or lowered.startswith(tuple(h + "/" for h in _INSTAGRAM_HOSTS))


def _from_url(text: str, raw: str) -> str:
    url = text if "://" in text else "https://" + text
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in {"http", "https"} or host not in _INSTAGRAM_HOSTS:
        raise InvalidInput(
            f"{raw!r} is not an Instagram profile URL: expected https://www.instagram.com/NAME/"
        )
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 1 or segments[0].lower() in _RESERVED_PATHS:
        raise InvalidInput(
            f"{raw!r} is not a profile URL: expected exactly one path part, "
            "https://www.instagram.com/NAME/"
        )
    return segments[0]


_SPOKEN = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a line break"}


def _characters(chars: list[str]) -> str:
    """``[' ', '!']`` as ``a space and '!'``: the characters a person has to remove."""
    names = list(
        dict.fromkeys(
            _SPOKEN.get(c) or (f"'{c}'" if c.isprintable() else f"U+{ord(c):04X}") for c in chars
        )
    )
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _check(handle: str, raw: str) -> None:
    if len(handle) > HANDLE_MAX:
        raise InvalidInput(f"handle {raw!r} is {len(handle)} characters long: {HANDLE_RULE}")
    if not _HANDLE_CHARS.fullmatch(handle):
        bad = sorted({c for c in handle if not _HANDLE_CHARS.fullmatch(c)})
        shown = _characters(bad) or "nothing usable"
        raise InvalidInput(f"handle {raw!r} contains {shown}: {HANDLE_RULE}")
    if handle.startswith(".") or handle.endswith("."):
        raise InvalidInput(f"handle {raw!r} starts or ends with '.': {HANDLE_RULE}")
    if ".." in handle:
        raise InvalidInput(f"handle {raw!r} contains '..': {HANDLE_RULE}")
