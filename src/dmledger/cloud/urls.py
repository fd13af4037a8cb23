"""Cloud URLs: which backend one names, and how to show one without its password.

Shared by the engines (``connecting/``) and the translation of driver errors
(``driver_errors/``), which both name the cloud in what they say.
"""

from __future__ import annotations

from sqlalchemy import exc
from sqlalchemy.engine import make_url

from dmledger.errors import InvalidInput

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "oracle")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable URL>"


def backend_of(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``oracle``; InvalidInput for anything else."""
    try:
        name = make_url(url).get_backend_name()
    except exc.ArgumentError:
        raise InvalidInput(
            f"cloud URL {redact_url(url)!r} is not a database URL: expected e.g. "
            "sqlite:///PATH, postgresql+psycopg://USER@HOST/DB or oracle+oracledb://USER@ALIAS"
        ) from None
    if name not in SUPPORTED_SCHEMES:
        raise InvalidInput(
            f"cloud URL {redact_url(url)!r} uses {name!r}: supported are "
            + ", ".join(SUPPORTED_SCHEMES)
        )
    return name
