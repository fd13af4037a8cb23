"""SQL identifiers DM Ledger writes into statements itself (a user, a schema): only
plain names are accepted, as they are never quoted."""

from __future__ import annotations

import re

from dmledger.errors import InvalidInput

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


def check_identifier(name: str, what: str = "database user") -> str:
    """A plain SQL identifier; anything else is refused (identifiers are never quoted
    user input)."""
    if not _IDENTIFIER.fullmatch(name):
        raise InvalidInput(
            f"{what} {name!r} is not a plain identifier: use letters, digits, '_' or '$', "
            "starting with a letter or '_', at most 63 characters"
        )
    return name
